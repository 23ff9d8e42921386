#include "miner/search_space.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/splitmix64.h"

namespace gradients::miner {
namespace {

enum class Kind { kReal, kInteger, kText };

struct Searchable {
  const char* name;
  Kind kind;
  const char* path[2];  // where the value goes in Hyperparameters::ToJson()
};

constexpr Searchable kSearchable[] = {
    {"mode", Kind::kText, {"mode", nullptr}},
    {"learning_rate", Kind::kReal, {"learning_rate", nullptr}},
    {"lr_scheduler", Kind::kText, {"lr_scheduler", nullptr}},
    {"warmup_steps", Kind::kInteger, {"warmup_steps", nullptr}},
    {"warmup_ratio", Kind::kReal, {"warmup_ratio", nullptr}},
    {"epochs", Kind::kReal, {"epochs", nullptr}},
    {"micro_batch_size", Kind::kInteger, {"micro_batch_size", nullptr}},
    {"gradient_accumulation_steps", Kind::kInteger, {"gradient_accumulation_steps", nullptr}},
    {"weight_decay", Kind::kReal, {"weight_decay", nullptr}},
    {"lora_r", Kind::kInteger, {"lora", "r"}},
    {"lora_alpha", Kind::kReal, {"lora", "alpha"}},
    {"lora_dropout", Kind::kReal, {"lora", "dropout"}},
};

const Searchable* FindSearchable(std::string_view name) {
  for (const Searchable& searchable : kSearchable) {
    if (name == searchable.name) return &searchable;
  }
  return nullptr;
}

// As written in the JSON: choices, or a range.
struct NumericDimensionConfig {
  std::vector<double> choices;
  double min = std::numeric_limits<double>::quiet_NaN();
  double max = std::numeric_limits<double>::quiet_NaN();
  bool log = false;
};

void ReadConfig(common::ConfigReader& reader, NumericDimensionConfig& config) {
  reader.Optional("choices", config.choices)
      .Optional("min", config.min)
      .Optional("max", config.max)
      .Optional("log", config.log);
  const bool range = !std::isnan(config.min) || !std::isnan(config.max);
  reader.Check(config.choices.empty() != !range, "choices", "give either choices or a range (min and max)");
  if (range) {
    reader.Check(std::isfinite(config.min) && std::isfinite(config.max) && config.min <= config.max, "max",
                 "a range needs finite min <= max");
    reader.Check(!config.log || config.min > 0, "log", "a log range needs min > 0");
  } else {
    reader.Check(!config.log, "log", "applies to a range only");
    reader.Check(std::all_of(config.choices.begin(), config.choices.end(), [](double v) { return std::isfinite(v); }),
                 "choices", "must be finite numbers");
  }
}

struct TextDimensionConfig {
  std::vector<std::string> choices;
};

void ReadConfig(common::ConfigReader& reader, TextDimensionConfig& config) {
  reader.Required("choices", config.choices).Check(!config.choices.empty(), "choices", "at least one");
}

bool IsWhole(double value) { return std::floor(value) == value; }

}  // namespace

const std::vector<std::string>& SearchableHyperparameters() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> out;
    for (const Searchable& searchable : kSearchable) out.emplace_back(searchable.name);
    return out;
  }();
  return names;
}

void ReadConfig(common::ConfigReader& reader, SearchSpace& space) {
  for (const Searchable& searchable : kSearchable) {
    SearchDimension dimension;
    dimension.name = searchable.name;
    dimension.integer = searchable.kind == Kind::kInteger;
    if (searchable.kind == Kind::kText) {
      TextDimensionConfig config;
      reader.Optional(searchable.name, config);
      if (config.choices.empty()) continue;
      dimension.choices.assign(config.choices.begin(), config.choices.end());
    } else {
      NumericDimensionConfig config;
      reader.Optional(searchable.name, config);
      if (config.choices.empty() && std::isnan(config.min) && std::isnan(config.max)) continue;
      dimension.choices.assign(config.choices.begin(), config.choices.end());
      if (!dimension.categorical()) {
        dimension.min = config.min;
        dimension.max = config.max;
        dimension.log = config.log;
      }
      if (dimension.integer) {
        const bool whole = dimension.categorical() ? std::all_of(config.choices.begin(), config.choices.end(), IsWhole)
                                                   : IsWhole(config.min) && IsWhole(config.max);
        reader.Check(whole, searchable.name, "takes whole numbers only");
        for (nlohmann::json& choice : dimension.choices) choice = static_cast<int64_t>(choice.get<double>());
      }
    }
    space.dimensions.push_back(std::move(dimension));
  }
}

nlohmann::json SearchDimension::ValueAt(double unit) const {
  unit = std::clamp(unit, 0.0, 1.0);
  if (categorical()) {
    const size_t index = std::min(choices.size() - 1, static_cast<size_t>(unit * static_cast<double>(choices.size())));
    return choices[index];
  }
  double value = log ? std::exp(std::log(min) + unit * (std::log(max) - std::log(min))) : min + unit * (max - min);
  value = std::clamp(value, min, max);  // exp(log(x)) may land a hair outside
  if (integer) return static_cast<int64_t>(std::llround(value));
  return value;
}

double SearchDimension::UnitOf(const nlohmann::json& value) const {
  if (categorical()) {
    const auto found = std::find(choices.begin(), choices.end(), value);
    const size_t index = found == choices.end() ? 0 : static_cast<size_t>(found - choices.begin());
    return (static_cast<double>(index) + 0.5) / static_cast<double>(choices.size());
  }
  if (max == min) return 0.5;
  const double v = value.get<double>();
  const double unit = log ? (std::log(v) - std::log(min)) / (std::log(max) - std::log(min)) : (v - min) / (max - min);
  return std::clamp(unit, 0.0, 1.0);
}

uint64_t SearchRandom::Next() { return common::SplitMix64(state_); }

double SearchRandom::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

double SearchRandom::Normal() {
  const double u1 = 1.0 - Uniform();  // (0, 1]: the log stays finite
  const double u2 = Uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

nlohmann::json SampleAssignment(const SearchSpace& space, SearchRandom& random) {
  nlohmann::json assignment = nlohmann::json::object();
  for (const SearchDimension& dimension : space.dimensions)
    assignment[dimension.name] = dimension.ValueAt(random.Uniform());
  return assignment;
}

common::Result<train::Hyperparameters> ApplyAssignment(const train::Hyperparameters& base, const nlohmann::json& assignment) {
  if (!assignment.is_object()) return common::Status::InvalidArgument("an assignment must be a JSON object");
  nlohmann::json json = base.ToJson();
  for (const auto& [name, value] : assignment.items()) {
    const Searchable* searchable = FindSearchable(name);
    if (searchable == nullptr)
      return common::Status::InvalidArgument("assignment: " + name + " is not a searchable hyperparameter");
    nlohmann::json& slot =
        searchable->path[1] == nullptr ? json[searchable->path[0]] : json[searchable->path[0]][searchable->path[1]];
    slot = value;
  }
  return common::ParseConfig<train::Hyperparameters>(json, "trial");
}

}  // namespace gradients::miner
