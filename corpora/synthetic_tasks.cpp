#include "corpora/synthetic_tasks.h"

#include <array>
#include <string>

#include "common/splitmix64.h"

namespace gradients::corpora {
namespace {

constexpr size_t kDefaultRows = 1000;

class Draws {
 public:
  explicit Draws(uint64_t seed) : state_(seed) {}
  // Uniform in [low, high].
  int64_t Between(int64_t low, int64_t high) {
    return low + static_cast<int64_t>(common::SplitMix64(state_) % static_cast<uint64_t>(high - low + 1));
  }
  template <typename T, size_t N>
  const T& Pick(const std::array<T, N>& items) {
    return items[static_cast<size_t>(Between(0, static_cast<int64_t>(N) - 1))];
  }

 private:
  uint64_t state_;
};

size_t RowsOf(const CorpusOptions& options) { return options.rows == 0 ? kDefaultRows : options.rows; }

constexpr std::array<const char*, 12> kNames = {"Ada",   "Bram", "Chloe", "Dev", "Elin",  "Farid",
                                                "Greta", "Hugo", "Ines",  "Jun", "Kemal", "Lena"};
constexpr std::array<const char*, 8> kThings = {"apples", "books",   "coins",  "marbles",
                                                "stamps", "pencils", "shells", "cards"};

}  // namespace

std::vector<nlohmann::json> ArithmeticRows(const CorpusOptions& options) {
  Draws draws(options.seed);
  std::vector<nlohmann::json> rows;
  for (size_t i = 0; i < RowsOf(options); ++i) {
    const int64_t kind = draws.Between(0, 2);
    int64_t a = 0, b = 0, answer = 0;
    std::string op;
    if (kind == 0) {
      a = draws.Between(0, 999), b = draws.Between(0, 999), op = "+", answer = a + b;
    } else if (kind == 1) {
      a = draws.Between(0, 999), b = draws.Between(0, a), op = "-", answer = a - b;
    } else {
      a = draws.Between(2, 99), b = draws.Between(2, 99), op = "x", answer = a * b;
    }
    rows.push_back({{"instruction", "What is " + std::to_string(a) + " " + op + " " + std::to_string(b) + "?"},
                    {"output", std::to_string(answer)}});
  }
  return rows;
}

std::vector<nlohmann::json> WordProblemRows(const CorpusOptions& options) {
  Draws draws(options.seed);
  std::vector<nlohmann::json> rows;
  for (size_t i = 0; i < RowsOf(options); ++i) {
    const int64_t name_index = draws.Between(0, kNames.size() - 1);
    const std::string name = kNames[static_cast<size_t>(name_index)];
    const std::string things = draws.Pick(kThings);
    int64_t count = draws.Between(2, 30);
    std::string story = name + " has " + std::to_string(count) + " " + things + ".";
    const int64_t steps = draws.Between(2, 4);
    for (int64_t step = 0; step < steps; ++step) {
      // Someone else: the story never has its hero give to itself.
      const std::string friend_name =
          kNames[static_cast<size_t>((name_index + draws.Between(1, kNames.size() - 1)) % kNames.size())];
      if (draws.Between(0, 1) == 0 || count < 2) {
        const int64_t more = draws.Between(1, 20);
        count += more;
        story += " " + friend_name + " gives " + name + " " + std::to_string(more) + " more.";
      } else {
        const int64_t fewer = draws.Between(1, count - 1);
        count -= fewer;
        story += " " + name + " gives " + std::to_string(fewer) + " to " + friend_name + ".";
      }
    }
    rows.push_back({{"instruction", story + " How many " + things + " does " + name + " have now?"},
                    {"output", std::to_string(count)}});
  }
  return rows;
}

std::vector<nlohmann::json> RetrievalRows(const CorpusOptions& options) {
  Draws draws(options.seed);
  std::vector<nlohmann::json> rows;
  for (size_t i = 0; i < RowsOf(options); ++i) {
    // Eight distinct names, each with a four-digit code.
    std::array<size_t, kNames.size()> order{};
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    for (size_t k = order.size() - 1; k > 0; --k) {
      std::swap(order[k], order[static_cast<size_t>(draws.Between(0, static_cast<int64_t>(k)))]);
    }
    std::string context;
    std::array<int64_t, 8> codes{};
    for (size_t k = 0; k < codes.size(); ++k) {
      codes[k] = draws.Between(1000, 9999);
      context +=
          std::string(k == 0 ? "" : " ") + "The code of " + kNames[order[k]] + " is " + std::to_string(codes[k]) + ".";
    }
    const size_t asked = static_cast<size_t>(draws.Between(0, 7));
    rows.push_back({{"instruction", std::string("What is the code of ") + kNames[order[asked]] + "?"},
                    {"input", context},
                    {"output", std::to_string(codes[asked])}});
  }
  return rows;
}

}  // namespace gradients::corpora
