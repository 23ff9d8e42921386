#include "miner/search_strategy.h"

#include <algorithm>
#include <cmath>

#include "miner/parzen_estimator.h"

namespace gradients::miner {
namespace {

// A draw of its own per trial, so that a replayed search draws the same values.
SearchRandom TrialRandom(uint64_t seed, int64_t index) {
  return SearchRandom(seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(index) + 1);
}

// The configuration's own epochs, or the budget when that is smaller.
double TrialEpochs(const train::Hyperparameters& base, const nlohmann::json& assignment, double budget) {
  common::Result<train::Hyperparameters> applied = ApplyAssignment(base, assignment);
  const double own = applied.ok() ? applied->epochs : base.epochs;
  return std::min(own, budget);
}

class FixedStrategy final : public SearchStrategy {
 public:
  explicit FixedStrategy(const StrategyOptions& options) : options_(options) {}
  std::optional<TrialPlan> Next(const std::vector<TrialRecord>& done, double) const override {
    if (!done.empty()) return std::nullopt;
    // The configuration in full: the deadline, not the estimate, stops it when time runs short.
    return TrialPlan{.index = 0,
                     .assignment = nlohmann::json::object(),
                     .epochs = options_.hyperparameters.epochs,
                     .rung = 0,
                     .whole_split = options_.retrain_best};
  }
  int64_t PlannedTrials() const override { return 1; }
  bool RetrainsBest() const override { return false; }

 private:
  const StrategyOptions options_;
};

// Shared by random and tpe: `trials` trials, each with an equal share of what is left.
class SequentialStrategy : public SearchStrategy {
 public:
  explicit SequentialStrategy(const StrategyOptions& options) : options_(options) {}
  std::optional<TrialPlan> Next(const std::vector<TrialRecord>& done, double epochs_left) const override {
    const int64_t index = static_cast<int64_t>(done.size());
    if (index >= options_.trials) return std::nullopt;
    const double share = epochs_left / static_cast<double>(options_.trials - index);
    if (share < kMinTrialEpochs) return std::nullopt;
    nlohmann::json assignment = Propose(done, index);
    const double epochs = TrialEpochs(options_.hyperparameters, assignment, share);
    return TrialPlan{
        .index = index, .assignment = std::move(assignment), .epochs = epochs, .rung = 0, .whole_split = false};
  }
  int64_t PlannedTrials() const override { return options_.trials; }
  bool RetrainsBest() const override { return options_.retrain_best; }

 protected:
  virtual nlohmann::json Propose(const std::vector<TrialRecord>& done, int64_t index) const = 0;
  const StrategyOptions options_;
};

class RandomStrategy final : public SequentialStrategy {
 public:
  using SequentialStrategy::SequentialStrategy;

 private:
  nlohmann::json Propose(const std::vector<TrialRecord>&, int64_t index) const override {
    SearchRandom random = TrialRandom(options_.seed, index);
    return SampleAssignment(options_.search_space, random);
  }
};

class TpeStrategy final : public SequentialStrategy {
 public:
  using SequentialStrategy::SequentialStrategy;

 private:
  static constexpr double kGoodShare = 0.25;

  nlohmann::json Propose(const std::vector<TrialRecord>& done, int64_t index) const override {
    SearchRandom random = TrialRandom(options_.seed, index);
    std::vector<const TrialRecord*> results;
    for (const TrialRecord& record : done) {
      if (record.ok()) results.push_back(&record);
    }
    if (index < options_.tpe_startup_trials || results.size() < 2) {
      return SampleAssignment(options_.search_space, random);
    }
    std::stable_sort(results.begin(), results.end(),
                     [](const TrialRecord* a, const TrialRecord* b) { return a->rank_loss() < b->rank_loss(); });
    const size_t good_count =
        std::max<size_t>(1, static_cast<size_t>(std::ceil(kGoodShare * static_cast<double>(results.size()))));
    std::vector<nlohmann::json> good, bad;
    for (size_t i = 0; i < results.size(); ++i) {
      (i < good_count ? good : bad).push_back(results[i]->plan.assignment);
    }
    // Failed trials count as bad: their region is not worth more draws.
    for (const TrialRecord& record : done) {
      if (!record.ok()) bad.push_back(record.plan.assignment);
    }
    const ParzenEstimator good_density(options_.search_space, good);
    const ParzenEstimator bad_density(options_.search_space, bad);
    nlohmann::json best;
    double best_score = -INFINITY;
    for (int64_t i = 0; i < options_.tpe_candidates; ++i) {
      nlohmann::json candidate = good_density.Sample(random);
      const double score = good_density.LogDensity(candidate) - bad_density.LogDensity(candidate);
      if (score > best_score) {
        best_score = score;
        best = std::move(candidate);
      }
    }
    return best;
  }
};

class HalvingStrategy final : public SearchStrategy {
 public:
  explicit HalvingStrategy(const StrategyOptions& options) : options_(options) {
    for (int64_t count = options.trials; count >= 1; count /= options.halving_rate) {
      rung_sizes_.push_back(count);
      if (count == 1) break;
    }
  }

  std::optional<TrialPlan> Next(const std::vector<TrialRecord>& done, double epochs_left) const override {
    const int64_t index = static_cast<int64_t>(done.size());
    // Where the search stands: the rung being trained and how many of its trials are done.
    int64_t rung = 0, done_in_rung = 0;
    for (const TrialRecord& record : done) {
      if (record.plan.rung != rung) {
        rung = record.plan.rung;
        done_in_rung = 0;
      }
      ++done_in_rung;
    }
    if (!done.empty() && done_in_rung >= RungSize(rung, done)) {
      ++rung;
      done_in_rung = 0;
    }
    if (rung >= static_cast<int64_t>(rung_sizes_.size()) || RungSize(rung, done) == 0) return std::nullopt;

    nlohmann::json assignment;
    if (rung == 0) {
      SearchRandom random = TrialRandom(options_.seed, index);
      assignment = SampleAssignment(options_.search_space, random);
    } else {
      assignment = Survivors(rung - 1, done)[static_cast<size_t>(done_in_rung)]->plan.assignment;
    }
    // Each rung costs about the same: a budget unit b0 per first-rung trial, growing by the rate.
    // The units still ahead are scaled into the epochs left, so a slow start shrinks what follows.
    double units_ahead = 0;
    for (int64_t r = rung; r < static_cast<int64_t>(rung_sizes_.size()); ++r) {
      const int64_t trials = r == rung ? RungSize(r, done) - done_in_rung : rung_sizes_[static_cast<size_t>(r)];
      units_ahead += static_cast<double>(trials) * std::pow(static_cast<double>(options_.halving_rate), r);
    }
    const double budget = epochs_left / units_ahead * std::pow(static_cast<double>(options_.halving_rate), rung);
    if (budget < kMinTrialEpochs) return std::nullopt;
    const double epochs = TrialEpochs(options_.hyperparameters, assignment, budget);
    return TrialPlan{
        .index = index, .assignment = std::move(assignment), .epochs = epochs, .rung = rung, .whole_split = false};
  }

  int64_t PlannedTrials() const override {
    int64_t total = 0;
    for (int64_t size : rung_sizes_) total += size;
    return total;
  }
  bool RetrainsBest() const override { return options_.retrain_best; }

 private:
  // The trials of `rung` that go on, best first: the top 1/rate of those that succeeded.
  std::vector<const TrialRecord*> Survivors(int64_t rung, const std::vector<TrialRecord>& done) const {
    std::vector<const TrialRecord*> results;
    for (const TrialRecord& record : done) {
      if (record.plan.rung == rung && record.ok()) results.push_back(&record);
    }
    std::stable_sort(results.begin(), results.end(),
                     [](const TrialRecord* a, const TrialRecord* b) { return a->rank_loss() < b->rank_loss(); });
    const size_t keep = static_cast<size_t>(rung_sizes_[static_cast<size_t>(rung) + 1]);
    if (results.size() > keep) results.resize(keep);
    return results;
  }

  // Trials in `rung`: planned size on the first, the survivors of the one before after that.
  int64_t RungSize(int64_t rung, const std::vector<TrialRecord>& done) const {
    if (rung == 0) return rung_sizes_[0];
    return static_cast<int64_t>(Survivors(rung - 1, done).size());
  }

  const StrategyOptions options_;
  std::vector<int64_t> rung_sizes_;
};

}  // namespace

std::vector<std::pair<std::string, std::string>> StrategyOptionProblems(const StrategyOptions& options) {
  std::vector<std::pair<std::string, std::string>> problems;
  auto check = [&](bool condition, const char* key, std::string message) {
    if (!condition) problems.emplace_back(key, std::move(message));
  };
  const std::string& name = options.name;
  check(name == "fixed" || name == "random" || name == "halving" || name == "tpe", "name",
        "expected one of fixed, random, halving, tpe");
  check(options.trials >= 1 && options.trials <= 1000, "trials", "must be in 1..1000");
  check(options.halving_rate >= 2 && options.halving_rate <= 16, "halving_rate", "must be in 2..16");
  check(options.tpe_startup_trials >= 1, "tpe_startup_trials", "must be at least 1");
  check(options.tpe_candidates >= 1 && options.tpe_candidates <= 10'000, "tpe_candidates", "must be in 1..10000");
  check(options.max_train_tokens >= 0, "max_train_tokens", "must be 0 (no cap) or positive");
  check(name == "fixed" || !options.search_space.dimensions.empty(), "search_space",
        "the " + name + " strategy needs at least one searched hyperparameter");
  check(name == "fixed" || options.hyperparameters.validation_fraction > 0, "hyperparameters",
        "the " + name + " strategy compares trials on a validation share: validation_fraction > 0");
  return problems;
}

void ReadConfig(common::ConfigReader& reader, StrategyOptions& options) {
  reader.OptionalChoice("name", options.name, {"fixed", "random", "halving", "tpe"})
      .Optional("hyperparameters", options.hyperparameters)
      .Optional("search_space", options.search_space)
      .Optional("trials", options.trials)
      .Optional("halving_rate", options.halving_rate)
      .Optional("tpe_startup_trials", options.tpe_startup_trials)
      .Optional("tpe_candidates", options.tpe_candidates)
      .Optional("seed", options.seed)
      .Optional("max_train_tokens", options.max_train_tokens)
      .Optional("retrain_best", options.retrain_best);
  for (const auto& [key, message] : StrategyOptionProblems(options)) {
    if (key != "name") reader.Check(false, key, message);  // OptionalChoice reported it
  }
}

common::Result<std::unique_ptr<SearchStrategy>> MakeSearchStrategy(const StrategyOptions& options) {
  // Checked as a config file's are: options built in code skip ReadConfig.
  if (const auto problems = StrategyOptionProblems(options); !problems.empty()) {
    return common::Status::InvalidArgument("strategy." + problems[0].first + ": " + problems[0].second);
  }
  // Every corner of the space must make a configuration the trainer accepts.
  for (const SearchDimension& dimension : options.search_space.dimensions) {
    for (double unit : {0.0, 1.0}) {
      const nlohmann::json assignment = {{dimension.name, dimension.ValueAt(unit)}};
      if (common::Result<train::Hyperparameters> applied = ApplyAssignment(options.hyperparameters, assignment); !applied.ok()) {
        return applied.status().WithContext("search_space." + dimension.name);
      }
    }
    for (const nlohmann::json& choice : dimension.choices) {
      if (common::Result<train::Hyperparameters> applied = ApplyAssignment(options.hyperparameters, {{dimension.name, choice}});
          !applied.ok()) {
        return applied.status().WithContext("search_space." + dimension.name);
      }
    }
  }
  if (options.name == "fixed") return std::unique_ptr<SearchStrategy>(new FixedStrategy(options));
  if (options.name == "random") return std::unique_ptr<SearchStrategy>(new RandomStrategy(options));
  if (options.name == "tpe") return std::unique_ptr<SearchStrategy>(new TpeStrategy(options));
  if (options.name == "halving") return std::unique_ptr<SearchStrategy>(new HalvingStrategy(options));
  return common::Status::InvalidArgument("strategy: unknown name " + options.name);
}

const TrialRecord* BestTrial(const std::vector<TrialRecord>& done) {
  const TrialRecord* best = nullptr;
  for (const TrialRecord& record : done) {
    if (record.ok() && (best == nullptr || record.rank_loss() < best->rank_loss())) best = &record;
  }
  return best;
}

}  // namespace gradients::miner
