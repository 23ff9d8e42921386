// How a miner spends a task's training budget (issue 6, Strategies): a strategy proposes trials —
// an assignment of the search space and a budget in epochs of the training split — one at a time,
// from the trials done so far and the budget left. Strategies are deterministic: the same options,
// history and budget give the same proposal, so a restarted miner replays its search from the
// trials it recorded (miner/search_run.h).
//   fixed    one trial: the base configuration, trained in full (on the whole split with retrain_best:
//            with nothing to compare, nothing needs holding back)
//   random   `trials` uniform draws, the budget shared equally
//   halving  successive halving: `trials` configurations on a small budget, the best 1/`halving_rate`
//            of each rung go on with `halving_rate` times the budget, until one is left
//   tpe      a tree-structured Parzen estimator: `tpe_startup_trials` random draws, then each trial
//            the candidate that best separates the good quarter of the results from the rest
#pragma once

#include <array>
#include <cstdint>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/enum_names.h"
#include "common/status.h"
#include "miner/search_space.h"
#include "trainers/hyperparameters.h"

namespace gradients::miner {

struct StrategyOptions {
  std::string name = "fixed";  // fixed, random, halving or tpe
  // The fixed strategy's configuration, and every value the search space leaves alone. Its
  // validation_fraction and seed make the validation split every trial is compared on.
  train::Hyperparameters hyperparameters{};
  SearchSpace search_space{};
  int64_t trials = 8;              // random and tpe: trials; halving: configurations on the first rung
  int64_t halving_rate = 3;        // halving: the share kept, and the budget's growth, per rung
  int64_t tpe_startup_trials = 3;  // tpe: random trials before the estimator guides
  int64_t tpe_candidates = 24;     // tpe: draws scored per trial
  uint64_t seed = 0;               // of the draws
  // A cap on the training tokens of the whole task (trials and retraining), so that a benchmark
  // spends the same work on every machine; 0: the deadline alone bounds it.
  int64_t max_train_tokens = 0;
  // Train the best configuration again on the whole training split when the budget allows (the
  // trials hold back the validation split).
  bool retrain_best = true;
};
void ReadConfig(common::ConfigReader& reader, StrategyOptions& options);
// Each option out of range, as (key, message); ReadConfig and MakeSearchStrategy refuse them.
std::vector<std::pair<std::string, std::string>> StrategyOptionProblems(const StrategyOptions& options);

struct TrialPlan {
  int64_t index = 0;
  nlohmann::json assignment = nlohmann::json::object();
  double epochs = 1;  // the trial's training, in epochs of the training split: its schedule shrinks to fit
  int64_t rung = 0;   // halving's rung; 0 otherwise
  // Nothing held back for validation: fixed's one run, when retrain_best asks for the whole split.
  bool whole_split = false;
};

// How a trial ended, as search.json spells it: trained, diverged (its loss or weights stopped being
// finite), or failed otherwise.
enum class TrialOutcome { kOk, kDiverged, kFailed };
constexpr auto EnumNames(TrialOutcome) {
  return std::to_array<common::EnumNameEntry<TrialOutcome>>(
      {{TrialOutcome::kOk, "ok"}, {TrialOutcome::kDiverged, "diverged"}, {TrialOutcome::kFailed, "failed"}});
}

struct TrialRecord {
  TrialPlan plan;
  TrialOutcome outcome = TrialOutcome::kFailed;  // until the trial shows otherwise
  std::string detail;  // why it failed
  // Set when ok, unless the configuration holds no validation share back (possible for fixed only).
  std::optional<double> validation_loss;
  int64_t tokens = 0;
  // Of those, trained in the `seconds` below (a trial resumed after a restart trained the rest before).
  int64_t timed_tokens = 0;
  double seconds = 0;           // the whole trial, model loading and evaluation included
  double seconds_in_steps = 0;  // of which in training steps
  bool ok() const { return outcome == TrialOutcome::kOk; }
  // What strategies rank trials by: lower is better, a trial without a loss after all others.
  double rank_loss() const { return validation_loss.value_or(std::numeric_limits<double>::infinity()); }
};

class SearchStrategy {
 public:
  virtual ~SearchStrategy() = default;
  // The next trial, or none when the search is done. `epochs_left`: what the budget still allows
  // the search (after the final retraining's share), in epochs of the training split.
  virtual std::optional<TrialPlan> Next(const std::vector<TrialRecord>& done, double epochs_left) const = 0;
  // Trials planned in all (progress reports); 0 when open-ended.
  virtual int64_t PlannedTrials() const = 0;
  // Whether the best trial is worth training again on the whole split (false for fixed: its one
  // trial is already the configuration in full).
  virtual bool RetrainsBest() const = 0;
};

common::Result<std::unique_ptr<SearchStrategy>> MakeSearchStrategy(const StrategyOptions& options);

// The successful trial with the lowest validation loss (the earliest of equals), if any.
const TrialRecord* BestTrial(const std::vector<TrialRecord>& done);

// Smallest budget a trial is given, in epochs: less teaches nothing to compare.
inline constexpr double kMinTrialEpochs = 0.02;

}  // namespace gradients::miner
