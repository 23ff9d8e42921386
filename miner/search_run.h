// Runs a strategy's search on one task's training split (issue 6, Strategies and Jobs): each
// trial a training run on the split less its validation share (the same split for every trial,
// so their validation losses compare), then the best configuration trained again on the whole
// split when the budget allows. The budget is the deadline (and the strategy's token cap),
// converted to epochs with the throughput measured so far.
//
// State is kept in run_dir so that a killed or stopped miner goes on where it was:
//   search.json   the strategy's options, the trials done (plan, outcome, loss, tokens, time), the
//                 trial or retraining under way
//   trial-N/      a trial's training run (its checkpoint while under way; afterwards only the best
//                 trial's result is kept)
//   final/        the retraining
// A trial that diverges or fails is recorded with its reason and the search goes on; only when
// every trial failed does the search fail.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "miner/search_strategy.h"
#include "text/dataset.h"
#include "trainers/hyperparameters.h"

namespace gradients::miner {

// What a search is doing: a trial, or the best configuration's retraining on the whole split.
enum class SearchPhase { kTrial, kRetrain };

struct SearchProgress {
  SearchPhase phase = SearchPhase::kTrial;
  int64_t trial_index = 0;
  int64_t trial_count = 0;  // planned
  nlohmann::json assignment = nlohmann::json::object();
  int64_t step = 0;
  int64_t total_steps = 0;
  double train_loss = 0;
  std::optional<double> validation_loss;       // the current run's, when evaluated
  std::optional<double> best_validation_loss;  // over the trials done
  int64_t tokens_seen = 0;                     // the whole search's
};

struct SearchRunOptions {
  StrategyOptions strategy{};
  std::filesystem::path model_dir;
  std::filesystem::path run_dir;
  std::string device = "cpu";
  // Everything, the result included, is written by then, as `now_ms` tells the time (the trials'
  // training runs take the same clock).
  std::chrono::system_clock::time_point deadline{};
  common::ClockMs now_ms = common::SystemClockMs;
  // Training tokens per second assumed until the first trial measures it; 0: unknown (the budget
  // is then the token cap, and the deadline alone stops a trial that would not fit).
  double estimated_tokens_per_second = 0;
  int64_t checkpoint_every_steps = 0;  // within each run, for a resume after a crash
  int64_t log_every_steps = 1;
  int cpu_threads = 0;
  // Shutdown: the run under way checkpoints and RunSearch returns ABORTED, its state kept.
  const std::atomic<bool>* stop = nullptr;
  std::function<void(const SearchProgress&)> on_progress;
};

struct SearchOutcome {
  std::filesystem::path result_dir;  // what to upload: an adapter, or a full model with its tokenizer
  train::TrainingMode mode = train::TrainingMode::kLora;
  std::vector<TrialRecord> trials;
  std::optional<double> best_validation_loss;
  bool retrained = false;
  std::string retrain_note;  // why the best trial's own result was sent instead, when it was
  int64_t tokens = 0;
  int64_t timed_tokens = 0;     // of those, trained in this call (not before a resume)
  double seconds = 0;           // this call's wall time
  double seconds_in_steps = 0;  // of which in training steps
};

common::Result<SearchOutcome> RunSearch(const SearchRunOptions& options, const std::vector<text::TokenizedExample>& examples,
                                int32_t pad_id);

}  // namespace gradients::miner
