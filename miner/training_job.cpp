#include "miner/training_job.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

#include "common/durable_file.h"
#include "common/logging.h"
#include "miner/checkpoint_upload.h"
#include "miner/model_directory.h"
#include "miner/search_run.h"
#include "proto/task_types.h"
#include "text/dataset.h"
#include "text/tokenizer.h"

namespace gradients::miner {
namespace {

// Fetches (or finds cached) the task's inputs, lays them out and tokenizes the split.
struct TaskInputs {
  std::filesystem::path model_dir;
  std::vector<text::TokenizedExample> examples;
  int32_t pad_id = 0;
};

common::Result<TaskInputs> PrepareInputs(ValidatorConnection& connection, const BlobCache& cache, const JobClaim& claim,
                                         const TrainingJobOptions& options) {
  const v1::TaskSpec& task = claim.task();
  GRADIENTS_ASSIGN_OR_RETURN(text::DatasetFormat format, text::ParseDatasetFormat(proto::TaskTypeName(task.type())));
  GRADIENTS_RETURN_IF_ERROR(CheckTaskFileName(task.training_split().file_name()));
  for (const v1::BlobRef& file : task.base_model_files()) {
    GRADIENTS_RETURN_IF_ERROR(cache.Fetch(connection, file).status());
  }
  GRADIENTS_RETURN_IF_ERROR(cache.Fetch(connection, task.training_split()).status());
  TaskInputs inputs;
  inputs.model_dir = options.job_dir / "model";
  const std::filesystem::path split = options.job_dir / "data" / task.training_split().file_name();
  GRADIENTS_RETURN_IF_ERROR(MaterializeModel(cache, task, inputs.model_dir));
  GRADIENTS_RETURN_IF_ERROR(LinkFromCache(cache, task.training_split(), split));

  text::DatasetOptions dataset;
  dataset.format = format;
  dataset.max_length = options.strategy.hyperparameters.max_length;
  dataset.columns.columns = {task.column_mapping().columns().begin(), task.column_mapping().columns().end()};
  GRADIENTS_ASSIGN_OR_RETURN(std::unique_ptr<text::Tokenizer> tokenizer, text::LoadTokenizer(inputs.model_dir));
  GRADIENTS_ASSIGN_OR_RETURN(inputs.examples, text::LoadTokenizedDataset(split, *tokenizer, dataset));
  inputs.pad_id = tokenizer->eos_id().value_or(0);
  return inputs;
}

// The files of the result the validator takes: the adapter, or the model with its tokenizer (the
// trainer's summary and checkpoint stay behind). Written to export.new/ and renamed: export/ is
// complete whenever it exists.
common::Status Export(const SearchOutcome& outcome, const std::filesystem::path& job_dir) {
  const std::filesystem::path staging = job_dir / "export.new";
  const std::filesystem::path exported = job_dir / "export";
  GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(staging));
  std::error_code error;
  std::filesystem::create_directories(staging, error);
  if (error) return common::Status::IoError("creating " + staging.string() + ": " + error.message());
  for (const auto& entry : std::filesystem::directory_iterator(outcome.result_dir, error)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file() || name == "training_summary.json") continue;
    std::filesystem::copy_file(entry.path(), staging / name, error);
    if (error) return common::Status::IoError("exporting " + entry.path().string() + ": " + error.message());
  }
  if (error) return common::Status::IoError("reading " + outcome.result_dir.string() + ": " + error.message());
  GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(exported));
  std::filesystem::rename(staging, exported, error);
  if (error) return common::Status::IoError("renaming " + staging.string() + ": " + error.message());
  return common::Status::Ok();
}

// Reports what the search does, at most every interval, to the validator and to job.json, from a
// thread of its own so that a slow validator never holds training up. The validator's answer says
// whether the task is still on: cancelled (FAILED) or past its training (uploads closed), the search
// halts. It also halts the search when the miner shuts down.
class ProgressReporter {
 public:
  ProgressReporter(ValidatorConnection& connection, const std::filesystem::path& job_dir, const JobStatus& status,
                   const TrainingJobOptions& options, common::ClockMs now_ms)
      : connection_(connection), job_dir_(job_dir), options_(options), now_ms_(std::move(now_ms)), status_(status) {
    worker_ = std::thread([this] { Work(); });
  }
  ~ProgressReporter() {
    {
      std::lock_guard lock(mutex_);
      closing_ = true;
    }
    changed_.notify_all();
    worker_.join();
  }

  // Called by the training thread: only records the latest progress.
  void Report(const SearchProgress& progress) {
    if (options_.stop != nullptr && options_.stop->load()) halt_ = true;  // even while a report is in flight
    std::lock_guard lock(mutex_);
    pending_ = progress;
    changed_.notify_all();
  }
  // What the search watches: set on shutdown or when the task is no longer on.
  const std::atomic<bool>* halt() const { return &halt_; }
  // Why the task is no longer on, when that halted the search.
  std::optional<std::string> task_ended() const {
    std::lock_guard lock(mutex_);
    return task_ended_;
  }
  // The status as last reported (for the job to go on from).
  JobStatus status() const {
    std::lock_guard lock(mutex_);
    return status_;
  }

 private:
  void Work() {
    std::unique_lock lock(mutex_);
    int64_t last_ms = 0;
    while (!closing_) {
      changed_.wait_for(lock, std::chrono::milliseconds(200));
      if (options_.stop != nullptr && options_.stop->load()) halt_ = true;
      if (!pending_ || now_ms_() - last_ms < options_.progress_interval_ms) continue;
      const SearchProgress progress = *pending_;
      pending_.reset();
      last_ms = now_ms_();
      status_.trials_done = progress.phase == SearchPhase::kTrial ? progress.trial_index : progress.trial_count;
      status_.trials_planned = progress.trial_count;
      status_.best_validation_loss = progress.best_validation_loss;
      status_.step = progress.step;
      status_.total_steps = progress.total_steps;
      status_.tokens_seen = progress.tokens_seen;
      status_.detail = progress.phase == SearchPhase::kRetrain ? "retraining the best configuration on the whole split"
                                                               : "trial " + std::to_string(progress.trial_index);
      status_.updated_ms = last_ms;
      const JobStatus snapshot = status_;
      lock.unlock();
      Send(progress, snapshot);
      lock.lock();
    }
  }

  void Send(const SearchProgress& progress, const JobStatus& status) {
    if (common::Status saved = SaveJobStatus(job_dir_, status); !saved.ok()) common::GetLogger("miner")->warn("{}", saved.message());
    v1::ReportProgressRequest request;
    request.set_task_id(status.task_id);
    v1::TrainingProgress* report = request.mutable_progress();
    report->set_step(static_cast<uint64_t>(progress.step));
    report->set_total_steps(static_cast<uint64_t>(progress.total_steps));
    if (std::isfinite(progress.train_loss) && progress.step > 0) report->set_train_loss(progress.train_loss);
    if (progress.validation_loss && std::isfinite(*progress.validation_loss)) {
      report->set_validation_loss(*progress.validation_loss);
    }
    report->set_tokens_seen(static_cast<uint64_t>(progress.tokens_seen));
    report->mutable_trial()->set_strategy(options_.strategy.name);
    report->mutable_trial()->set_trial_index(static_cast<uint32_t>(progress.trial_index));
    report->mutable_trial()->set_trial_count(static_cast<uint32_t>(progress.trial_count));
    for (const auto& [name, value] : progress.assignment.items()) {
      (*report->mutable_trial()->mutable_hyperparameters())[name] = value.dump();
    }
    report->set_message(status.detail);
    v1::ReportProgressResponse response;
    const grpc::Status called = connection_.Call(
        [&](grpc::ClientContext& context) { return connection_.stub().ReportProgress(&context, request, &response); },
        std::chrono::seconds(10));
    // Progress is advisory: a validator that cannot take it now does not stop the training.
    if (!called.ok()) {
      common::GetLogger("miner")->debug("task {}: ReportProgress: {}", status.task_id, called.error_message());
      return;
    }
    const v1::TaskStatus task = response.task_status();
    if (task == v1::TASK_STATUS_FAILED || task == v1::TASK_STATUS_EVALUATING || task == v1::TASK_STATUS_SCORED) {
      std::lock_guard lock(mutex_);
      task_ended_ = task == v1::TASK_STATUS_FAILED ? "the validator cancelled the task"
                                                   : "the validator closed the task's uploads";
      halt_ = true;
    }
  }

  ValidatorConnection& connection_;
  const std::filesystem::path job_dir_;
  const TrainingJobOptions& options_;
  const common::ClockMs now_ms_;
  mutable std::mutex mutex_;  // guards the members below
  std::condition_variable changed_;
  JobStatus status_;
  std::optional<SearchProgress> pending_;
  std::optional<std::string> task_ended_;
  bool closing_ = false;
  std::atomic<bool> halt_ = false;
  std::thread worker_;
};

common::Result<JobStatus> Fail(const std::filesystem::path& job_dir, JobStatus status, const common::Status& error, int64_t now_ms) {
  if (KeepsJobPhase(error.code())) return error;
  status.phase = JobPhase::kFailed;
  status.detail = error.message();
  status.updated_ms = now_ms;
  if (common::Status saved = SaveJobStatus(job_dir, status); !saved.ok()) common::GetLogger("miner")->warn("{}", saved.message());
  return error;
}

}  // namespace

bool KeepsJobPhase(common::StatusCode code) {
  return code == common::StatusCode::kAborted || code == common::StatusCode::kUnavailable || code == common::StatusCode::kDeadlineExceeded ||
         code == common::StatusCode::kResourceExhausted;
}

common::Result<JobStatus> RunTrainingJob(ValidatorConnection& connection, const BlobCache& cache, const JobClaim& claim,
                                         const TrainingJobOptions& options, common::ClockMs now_ms) {
  auto logger = common::GetLogger("miner");
  const std::string where = "task " + claim.task_id();
  GRADIENTS_RETURN_IF_ERROR(CheckJobTaskId(claim.task_id()));
  JobStatus status;
  if (common::Result<JobStatus> loaded = LoadJobStatus(options.job_dir); loaded.ok() && loaded->task_id == claim.task_id()) {
    status = *loaded;
  } else {
    const std::string validator_id = options.validator_id.empty() ? connection.validator_id() : options.validator_id;
    GRADIENTS_RETURN_IF_ERROR(RecordNewJob(options.job_dir, claim, validator_id, options.strategy.name));
    GRADIENTS_ASSIGN_OR_RETURN(status, LoadJobStatus(options.job_dir));
  }
  if (status.finished()) return status;

  if (status.phase != JobPhase::kUploading) {
    common::Result<TaskInputs> inputs = PrepareInputs(connection, cache, claim, options);
    if (!inputs.ok()) return Fail(options.job_dir, status, inputs.status().WithContext(where), now_ms());
    status.phase = JobPhase::kTraining;
    status.updated_ms = now_ms();
    GRADIENTS_RETURN_IF_ERROR(SaveJobStatus(options.job_dir, status));

    SearchRunOptions search;
    search.strategy = options.strategy;
    // The task's own token budget, when it sets one, caps the strategy's.
    if (claim.task().has_max_training_tokens() && claim.task().max_training_tokens() > 0) {
      const auto task_cap = static_cast<int64_t>(std::min<uint64_t>(claim.task().max_training_tokens(), INT64_MAX));
      search.strategy.max_train_tokens =
          search.strategy.max_train_tokens > 0 ? std::min(search.strategy.max_train_tokens, task_cap) : task_cap;
    }
    search.model_dir = inputs->model_dir;
    search.run_dir = options.job_dir / "search";
    search.device = options.device;
    search.deadline = claim.deadline - options.upload_reserve;
    search.now_ms = now_ms;
    search.estimated_tokens_per_second = options.estimated_tokens_per_second;
    search.checkpoint_every_steps = options.checkpoint_every_steps;
    search.cpu_threads = options.cpu_threads;
    common::Result<SearchOutcome> outcome = common::Status::Internal("not run");
    {
      ProgressReporter reporter(connection, options.job_dir, status, options, now_ms);
      search.stop = reporter.halt();
      search.on_progress = [&reporter](const SearchProgress& progress) { reporter.Report(progress); };
      outcome = RunSearch(search, inputs->examples, inputs->pad_id);
      status = reporter.status();
      if (std::optional<std::string> ended = reporter.task_ended()) {
        return Fail(options.job_dir, status, common::Status::FailedPrecondition(*ended).WithContext(where), now_ms());
      }
    }
    if (!outcome.ok()) return Fail(options.job_dir, status, outcome.status().WithContext(where), now_ms());
    if (common::Status exported = Export(*outcome, options.job_dir); !exported.ok()) {
      return Fail(options.job_dir, status, exported.WithContext(where), now_ms());
    }
    int64_t failed = 0;
    for (const TrialRecord& trial : outcome->trials) failed += trial.ok() ? 0 : 1;
    status.phase = JobPhase::kUploading;
    status.trials_done = static_cast<int64_t>(outcome->trials.size());
    status.best_validation_loss = outcome->best_validation_loss;
    status.tokens_seen = outcome->tokens;
    if (outcome->seconds > 0) {
      status.tokens_per_second = static_cast<double>(outcome->timed_tokens) / outcome->seconds;
    }
    status.detail = (outcome->retrained ? "retrained the best configuration" : outcome->retrain_note) + "; " +
                    std::to_string(failed) + " trial(s) failed; mode " + std::string(common::EnumName(outcome->mode));
    status.updated_ms = now_ms();
    GRADIENTS_RETURN_IF_ERROR(SaveJobStatus(options.job_dir, status));
    logger->info("{}: search done ({} trials, best validation loss {}); uploading", where, outcome->trials.size(),
                 outcome->best_validation_loss ? std::to_string(*outcome->best_validation_loss) : "none");
  }

  // The kind follows what export/ holds: an adapter's config, or a model's.
  const common::CheckpointKind kind = std::filesystem::exists(options.job_dir / "export" / "adapter_config.json")
                                  ? common::CheckpointKind::kLoraAdapter
                                  : common::CheckpointKind::kFullModel;
  UploadOptions upload = options.upload;
  upload.stop = options.stop;
  upload.now_ms = now_ms;
  common::Result<UploadedCheckpoint> uploaded =
      UploadCheckpoint(connection, claim.task_id(), claim.message.claim_nonce(), options.job_dir / "export", kind, upload);
  if (!uploaded.ok()) return Fail(options.job_dir, status, uploaded.status().WithContext(where), now_ms());
  status.phase = JobPhase::kSubmitted;
  status.receipt_id = uploaded->receipt_id;
  status.updated_ms = now_ms();
  GRADIENTS_RETURN_IF_ERROR(SaveJobStatus(options.job_dir, status));
  logger->info("{}: submitted, receipt {} ({} bytes sent)", where, uploaded->receipt_id, uploaded->bytes_sent);
  return status;
}

}  // namespace gradients::miner
