#include "miner/search_run.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/durable_file.h"
#include "common/logging.h"
#include "trainers/trainer.h"

namespace gradients::miner {
namespace {

using TimePoint = std::chrono::system_clock::time_point;

constexpr std::chrono::seconds kBookkeepingReserve{1};

nlohmann::json PlanToJson(const TrialPlan& plan) {
  return {{"index", plan.index},
          {"assignment", plan.assignment},
          {"epochs", plan.epochs},
          {"rung", plan.rung},
          {"whole_split", plan.whole_split}};
}

TrialPlan PlanFromJson(const nlohmann::json& json) {
  return TrialPlan{.index = json.at("index").get<int64_t>(),
                   .assignment = json.at("assignment"),
                   .epochs = json.at("epochs").get<double>(),
                   .rung = json.at("rung").get<int64_t>(),
                   .whole_split = json.at("whole_split").get<bool>()};
}

nlohmann::json RecordToJson(const TrialRecord& record) {
  nlohmann::json json = {{"plan", PlanToJson(record.plan)}, {"outcome", common::EnumName(record.outcome)},
                         {"detail", record.detail},         {"validation_loss", nullptr},
                         {"tokens", record.tokens},         {"timed_tokens", record.timed_tokens},
                         {"seconds", record.seconds},       {"seconds_in_steps", record.seconds_in_steps}};
  if (record.validation_loss) json["validation_loss"] = *record.validation_loss;
  return json;
}

// Throws nlohmann's exceptions for a missing or mistyped field; an outcome of no known name is an
// error naming it.
common::Result<TrialRecord> RecordFromJson(const nlohmann::json& json) {
  TrialRecord record;
  record.plan = PlanFromJson(json.at("plan"));
  common::Result<TrialOutcome> outcome = common::ParseEnum<TrialOutcome>(json.at("outcome").get<std::string>());
  if (!outcome.ok()) return outcome.status().WithContext("trial outcome");
  record.outcome = *outcome;
  record.detail = json.at("detail").get<std::string>();
  if (!json.at("validation_loss").is_null()) record.validation_loss = json.at("validation_loss").get<double>();
  record.tokens = json.at("tokens").get<int64_t>();
  record.timed_tokens = json.at("timed_tokens").get<int64_t>();
  record.seconds = json.at("seconds").get<double>();
  record.seconds_in_steps = json.at("seconds_in_steps").get<double>();
  return record;
}

// What makes a recorded search this one: a miner restarted with other options starts over.
nlohmann::json OptionsFingerprint(const StrategyOptions& options) {
  nlohmann::json space = nlohmann::json::array();
  for (const SearchDimension& dimension : options.search_space.dimensions) {
    space.push_back({{"name", dimension.name},
                     {"choices", dimension.choices},
                     {"min", dimension.min},
                     {"max", dimension.max},
                     {"log", dimension.log}});
  }
  return {{"name", options.name},
          {"hyperparameters", options.hyperparameters.ToJson()},
          {"search_space", space},
          {"trials", options.trials},
          {"halving_rate", options.halving_rate},
          {"tpe_startup_trials", options.tpe_startup_trials},
          {"tpe_candidates", options.tpe_candidates},
          {"seed", options.seed},
          {"max_train_tokens", options.max_train_tokens},
          {"retrain_best", options.retrain_best}};
}

struct SearchState {
  std::vector<TrialRecord> trials;
  std::optional<TrialPlan> current;  // the trial under way
  bool retraining = false;           // the retraining is under way
};

class SearchRun {
 public:
  SearchRun(const SearchRunOptions& options, const std::vector<text::TokenizedExample>& examples, int32_t pad_id,
            const SearchStrategy& strategy)
      : options_(options), examples_(examples), pad_id_(pad_id), strategy_(strategy) {
    const train::Hyperparameters& base = options.strategy.hyperparameters;
    for (const text::TokenizedExample& example : examples) {
      split_tokens_ +=
          static_cast<double>(std::min<int64_t>(static_cast<int64_t>(example.input_ids.size()), base.max_length));
    }
    // Trials train on the split less its validation share; "epochs" count passes over that.
    trial_epoch_tokens_ = std::max(1.0, split_tokens_ * (1.0 - base.validation_fraction));
  }

  common::Result<SearchOutcome> Run();

 private:
  common::Status LoadState();
  common::Status SaveState() const;
  std::filesystem::path TrialDir(int64_t index) const { return options_.run_dir / ("trial-" + std::to_string(index)); }
  TimePoint Now() const { return common::TimePointOfMs(options_.now_ms()); }
  double SecondsSince(TimePoint start) const { return std::chrono::duration<double>(Now() - start).count(); }
  double TokensPerSecond() const;
  double SecondsLeft() const;           // until the runs' own deadline
  double TrialOverheadSeconds() const;  // the most a trial so far cost besides its steps
  int64_t TokensUsed() const {          // by the trials done
    int64_t used = 0;
    for (const TrialRecord& record : state_.trials) used += record.tokens;
    return used;
  }
  double EpochsLeft() const;
  double RetrainEpochs() const;  // in trial epochs
  common::Result<TrialRecord> RunTrial(const TrialPlan& plan);
  common::Result<train::TrainResult> TrainRun(const train::Hyperparameters& hyperparameters,
                                              const std::filesystem::path& out_dir, SearchPhase phase,
                                              int64_t trial_index, const nlohmann::json& assignment);
  void KeepBestTrialOnly();

  const SearchRunOptions& options_;
  const std::vector<text::TokenizedExample>& examples_;
  const int32_t pad_id_;
  const SearchStrategy& strategy_;
  double split_tokens_ = 0;
  double trial_epoch_tokens_ = 1;
  SearchState state_;
  SearchOutcome outcome_;
};

common::Status SearchRun::LoadState() {
  const std::filesystem::path path = options_.run_dir / "search.json";
  if (!std::filesystem::exists(path)) return common::Status::Ok();
  common::Result<nlohmann::json> json = common::ReadJsonFile(path);
  if (!json.ok() || !json->is_object() || !json->contains("options") ||
      (*json)["options"] != OptionsFingerprint(options_.strategy)) {
    common::GetLogger("miner")->warn("{}; starting the search over",
                             json.ok() ? path.string() + ": a search with other options" : json.status().message());
    GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(options_.run_dir));
    std::error_code error;
    std::filesystem::create_directories(options_.run_dir, error);
    if (error) return common::Status::IoError("creating " + options_.run_dir.string() + ": " + error.message());
    return common::Status::Ok();
  }
  try {
    for (const nlohmann::json& record : json->at("trials")) {
      common::Result<TrialRecord> read = RecordFromJson(record);
      if (!read.ok()) return common::Status::DataLoss(path.string() + ": " + read.status().message());
      state_.trials.push_back(std::move(*read));
    }
    if (!json->at("current").is_null()) state_.current = PlanFromJson(json->at("current"));
    state_.retraining = json->at("retraining").get<bool>();
  } catch (const nlohmann::json::exception& error) {
    return common::Status::DataLoss(path.string() + ": " + error.what());
  }
  return common::Status::Ok();
}

common::Status SearchRun::SaveState() const {
  nlohmann::json trials = nlohmann::json::array();
  for (const TrialRecord& record : state_.trials) trials.push_back(RecordToJson(record));
  const nlohmann::json json = {{"options", OptionsFingerprint(options_.strategy)},
                               {"trials", trials},
                               {"current", state_.current ? PlanToJson(*state_.current) : nlohmann::json(nullptr)},
                               {"retraining", state_.retraining}};
  return common::WriteFileDurably(options_.run_dir / "search.json", json.dump(1) + "\n");
}

double SearchRun::TokensPerSecond() const {
  int64_t tokens = 0;
  double seconds = 0;
  for (const TrialRecord& record : state_.trials) {
    if (!record.ok()) continue;  // a failed trial's time says nothing of the speed
    tokens += record.timed_tokens;
    seconds += record.seconds;
  }
  // Whole trials, loading and evaluation included: what the next one will cost.
  if (tokens > 0 && seconds > 0) return static_cast<double>(tokens) / seconds;
  return options_.estimated_tokens_per_second;
}

double SearchRun::RetrainEpochs() const {
  if (!strategy_.RetrainsBest()) return 0;
  // A tenth more: the last micro-batch of an epoch is rounded up to a whole one.
  return 1.1 * options_.strategy.hyperparameters.epochs * split_tokens_ / trial_epoch_tokens_;
}

double SearchRun::SecondsLeft() const {
  return std::chrono::duration<double>(options_.deadline - kBookkeepingReserve - Now()).count();
}

double SearchRun::TrialOverheadSeconds() const {
  double overhead = 0;
  for (const TrialRecord& record : state_.trials) {
    if (record.ok()) overhead = std::max(overhead, record.seconds - record.seconds_in_steps);
  }
  return overhead;
}

double SearchRun::EpochsLeft() const {
  const double seconds_left = SecondsLeft();
  if (seconds_left <= 0) return 0;
  double epochs = std::numeric_limits<double>::infinity();
  const double tokens_per_second = TokensPerSecond();
  if (tokens_per_second > 0) {
    // A tenth kept back for what the estimate does not see.
    epochs = 0.9 * seconds_left * tokens_per_second / trial_epoch_tokens_;
  }
  if (options_.strategy.max_train_tokens > 0) {
    epochs =
        std::min(epochs, static_cast<double>(options_.strategy.max_train_tokens - TokensUsed()) / trial_epoch_tokens_);
  }
  if (std::isinf(epochs)) return 1e9;  // unbounded: every trial gets its configuration in full
  return epochs - RetrainEpochs();
}

common::Result<train::TrainResult> SearchRun::TrainRun(const train::Hyperparameters& hyperparameters,
                                                       const std::filesystem::path& out_dir, SearchPhase phase,
                                                       int64_t trial_index, const nlohmann::json& assignment) {
  train::TrainOptions train;
  train.hyperparameters = hyperparameters;
  train.model_dir = options_.model_dir;
  train.out_dir = out_dir;
  train.device = options_.device;
  train.resume = std::filesystem::exists(out_dir / "checkpoint" / "state.json");
  // What follows a run (recording it, choosing the next) must fit before the deadline too.
  train.deadline = options_.deadline - kBookkeepingReserve;
  train.now_ms = options_.now_ms;
  train.log_every_steps = options_.log_every_steps;
  train.checkpoint_every_steps = options_.checkpoint_every_steps;
  train.cpu_threads = options_.cpu_threads;
  train.cancel = options_.stop;
  if (options_.on_progress) {
    train.on_progress = [&](const train::TrainProgress& progress) {
      SearchProgress report;
      report.phase = phase;
      report.trial_index = trial_index;
      report.trial_count = strategy_.PlannedTrials();
      report.assignment = assignment;
      report.step = progress.step;
      report.total_steps = progress.total_steps;
      report.train_loss = progress.loss;
      report.validation_loss = progress.validation_loss;
      if (const TrialRecord* best = BestTrial(state_.trials)) report.best_validation_loss = best->validation_loss;
      report.tokens_seen = TokensUsed() + progress.tokens;
      options_.on_progress(report);
    };
  }
  common::Result<train::TrainResult> trained = train::Train(train, examples_, pad_id_);
  if (trained.ok()) {
    outcome_.tokens += trained->tokens;
    outcome_.timed_tokens += trained->tokens - trained->resumed_tokens;
    outcome_.seconds_in_steps += trained->seconds_in_steps;
  }
  return trained;
}

common::Result<TrialRecord> SearchRun::RunTrial(const TrialPlan& plan) {
  auto logger = common::GetLogger("miner");
  TrialRecord record;
  record.plan = plan;
  const TimePoint start = Now();
  common::Result<train::Hyperparameters> hyperparameters = ApplyAssignment(options_.strategy.hyperparameters, plan.assignment);
  if (!hyperparameters.ok()) {
    record.outcome = TrialOutcome::kFailed;
    record.detail = hyperparameters.status().message();
    return record;
  }
  // The configuration's schedule shrunk to the trial's budget, warmup with it.
  train::Hyperparameters trial = *hyperparameters;
  if (plan.epochs < trial.epochs) {
    const double ratio = plan.epochs / trial.epochs;
    trial.warmup_steps = static_cast<int64_t>(std::ceil(static_cast<double>(trial.warmup_steps) * ratio));
    trial.epochs = plan.epochs;
  }
  if (plan.whole_split) trial.validation_fraction = 0;
  if (options_.strategy.max_train_tokens > 0) {  // a hard stop where the estimate in epochs falls short
    trial.max_train_tokens = std::max<int64_t>(1, options_.strategy.max_train_tokens - TokensUsed());
  }
  logger->info("trial {}: {} for {:.3g} epochs", plan.index, plan.assignment.dump(), plan.epochs);
  common::Result<train::TrainResult> trained =
      TrainRun(trial, TrialDir(plan.index), SearchPhase::kTrial, plan.index, plan.assignment);
  record.seconds = SecondsSince(start);
  if (!trained.ok()) {
    const bool diverged = trained.status().code() == common::StatusCode::kDiverged;
    record.outcome = diverged ? TrialOutcome::kDiverged : TrialOutcome::kFailed;
    record.detail = trained.status().message();
    logger->warn("trial {} {}: {}", plan.index, common::EnumName(record.outcome), record.detail);
    return record;
  }
  if (trained->stop_reason == train::StopReason::kCancelled) {
    return common::Status::Aborted("stopped during trial " + std::to_string(plan.index));
  }
  record.tokens = trained->tokens;
  record.timed_tokens = trained->tokens - trained->resumed_tokens;
  record.seconds_in_steps = trained->seconds_in_steps;
  record.outcome = TrialOutcome::kOk;
  record.validation_loss = trained->best_validation_loss;
  logger->info("trial {}: validation loss {} after {} steps ({})", plan.index,
               record.validation_loss ? std::to_string(*record.validation_loss) : "not measured", trained->steps,
               common::EnumName(trained->stop_reason));
  return record;
}

// Only the best trial's result can be sent: the others' directories go (a full fine-tune is a
// model's size per trial), and the best one's checkpoint too once it is done.
void SearchRun::KeepBestTrialOnly() {
  const TrialRecord* best = BestTrial(state_.trials);
  for (const TrialRecord& record : state_.trials) {
    const std::filesystem::path dir = TrialDir(record.plan.index);
    const common::Status removed = &record == best ? common::RemoveTree(dir / "checkpoint") : common::RemoveTree(dir);
    if (!removed.ok()) common::GetLogger("miner")->warn("{}", removed.message());
  }
}

common::Result<SearchOutcome> SearchRun::Run() {
  auto logger = common::GetLogger("miner");
  const TimePoint start = Now();
  std::error_code error;
  std::filesystem::create_directories(options_.run_dir, error);
  if (error) return common::Status::IoError("creating " + options_.run_dir.string() + ": " + error.message());
  GRADIENTS_RETURN_IF_ERROR(LoadState());

  while (!state_.retraining) {
    if (options_.stop != nullptr && options_.stop->load()) return common::Status::Aborted("stopped before a trial");
    // A new trial only when the time left holds more than what a trial costs besides its steps
    // (loading, evaluating and saving); one under way is always finished (its checkpoint is there).
    if (!state_.current && SecondsLeft() <= TrialOverheadSeconds()) break;
    std::optional<TrialPlan> plan = state_.current ? state_.current : strategy_.Next(state_.trials, EpochsLeft());
    if (!plan) break;
    state_.current = plan;
    GRADIENTS_RETURN_IF_ERROR(SaveState());
    GRADIENTS_ASSIGN_OR_RETURN(TrialRecord record, RunTrial(*plan));
    state_.trials.push_back(std::move(record));
    state_.current.reset();
    // Recorded before anything is removed: a crash in between leaves extra files, never a record
    // naming a removed one.
    GRADIENTS_RETURN_IF_ERROR(SaveState());
    KeepBestTrialOnly();
  }

  const TrialRecord* best = BestTrial(state_.trials);
  if (best == nullptr && !state_.trials.empty()) {
    const TrialRecord& last = state_.trials.back();
    return common::Status::FailedPrecondition("every trial failed; the last (" + std::to_string(last.plan.index) + ", " +
                                              std::string(common::EnumName(last.outcome)) + "): " + last.detail);
  }
  outcome_.trials = state_.trials;
  if (best != nullptr) outcome_.best_validation_loss = best->validation_loss;

  // The best configuration on the whole split, in full; or, when no trial ran (the budget holds no
  // search), the base configuration as it is.
  train::Hyperparameters final_hyperparameters = options_.strategy.hyperparameters;
  if (best != nullptr) {
    GRADIENTS_ASSIGN_OR_RETURN(final_hyperparameters,
                               ApplyAssignment(options_.strategy.hyperparameters, best->plan.assignment));
  }
  bool retrain = best == nullptr || strategy_.RetrainsBest();
  if (retrain && best != nullptr && !state_.retraining) {
    const double tokens_per_second = TokensPerSecond();
    const double needed = final_hyperparameters.epochs * split_tokens_;
    const double seconds_left = std::chrono::duration<double>(options_.deadline - Now()).count();
    if (options_.strategy.max_train_tokens > 0 &&
        needed > static_cast<double>(options_.strategy.max_train_tokens - TokensUsed())) {
      retrain = false;
      outcome_.retrain_note = "the token cap leaves too little to retrain";
    } else if (tokens_per_second > 0 && needed / tokens_per_second > 0.9 * seconds_left) {
      retrain = false;
      outcome_.retrain_note = "the time left is too short to retrain";
    }
  }
  if (!retrain) {
    if (outcome_.retrain_note.empty()) outcome_.retrain_note = "the strategy trains its configuration once";
    outcome_.result_dir = TrialDir(best->plan.index);
    outcome_.mode = final_hyperparameters.mode;
    outcome_.seconds = SecondsSince(start);
    return outcome_;
  }

  state_.retraining = true;
  GRADIENTS_RETURN_IF_ERROR(SaveState());
  if (best != nullptr) final_hyperparameters.validation_fraction = 0;  // the trials measured it already
  if (options_.strategy.max_train_tokens > 0) {
    final_hyperparameters.max_train_tokens = std::max<int64_t>(1, options_.strategy.max_train_tokens - TokensUsed());
  }
  const nlohmann::json assignment = best != nullptr ? best->plan.assignment : nlohmann::json::object();
  logger->info("retraining {} on the whole split", assignment.dump());
  common::Result<train::TrainResult> trained =
      TrainRun(final_hyperparameters, options_.run_dir / "final", SearchPhase::kRetrain, strategy_.PlannedTrials(),
               assignment);
  if (trained.ok() && trained->stop_reason == train::StopReason::kCancelled) {
    return common::Status::Aborted("stopped during the retraining");
  }
  if (!trained.ok() && best == nullptr) return trained.status();
  const bool complete = trained.ok() && (best == nullptr || trained->stop_reason == train::StopReason::kCompleted ||
                                         trained->stop_reason == train::StopReason::kMaxTrainTokens);
  if (complete) {
    outcome_.result_dir = options_.run_dir / "final";
    outcome_.retrained = true;
    // A retraining on the whole split has nothing held back: the best trial's loss stands for it.
    if (trained->best_validation_loss) outcome_.best_validation_loss = trained->best_validation_loss;
  } else if (best != nullptr) {
    outcome_.retrain_note = trained.ok() ? "the retraining stopped early (" +
                                               std::string(common::EnumName(trained->stop_reason)) + ")"
                                         : "the retraining failed: " + trained.status().message();
    logger->warn("{}; sending trial {}'s result", outcome_.retrain_note, best->plan.index);
    outcome_.result_dir = TrialDir(best->plan.index);
  }
  outcome_.mode = final_hyperparameters.mode;
  outcome_.seconds = SecondsSince(start);
  return outcome_;
}

}  // namespace

common::Result<SearchOutcome> RunSearch(const SearchRunOptions& options, const std::vector<text::TokenizedExample>& examples,
                                int32_t pad_id) {
  GRADIENTS_ASSIGN_OR_RETURN(std::unique_ptr<SearchStrategy> strategy, MakeSearchStrategy(options.strategy));
  SearchRun run(options, examples, pad_id, *strategy);
  return run.Run();
}

}  // namespace gradients::miner
