#include "validator/tasks/task_evaluation.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cmath>
#include <map>
#include <set>

#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "common/hex.h"
#include "common/logging.h"

namespace gradients::validator {
namespace {

constexpr size_t kMaxReasonBytes = 256;

std::string Bounded(std::string text) {
  if (text.size() > kMaxReasonBytes) text.resize(kMaxReasonBytes);
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return text;
}

// Puts blob `hash` at `target` (a hard link: no copy; the evaluator only reads it).
common::Status PlaceBlob(const BlobStore& blobs, const std::string& hash, const std::filesystem::path& target) {
  common::Result<std::filesystem::path> source = blobs.PathOf(hash);
  if (!source.ok()) return source.status();
  std::error_code error;
  std::filesystem::create_directories(target.parent_path(), error);
  if (error) return common::Status::IoError(target.parent_path().string() + ": " + error.message());
  if (link(source->c_str(), target.c_str()) == 0) return common::Status::Ok();
  std::filesystem::copy_file(*source, target, error);
  if (error) return common::Status::IoError("placing " + target.string() + ": " + error.message());
  return common::Status::Ok();
}

// A relative path the registry or a manifest produced, refused if it could leave its directory.
bool IsContainedPath(const std::string& path) {
  if (path.empty() || path.front() == '/') return false;
  for (const auto& part : std::filesystem::path(path)) {
    if (part == ".." || part == ".") return false;
  }
  return true;
}

// "role=column,..." for --columns.
std::string ColumnsFlag(const text::ColumnMapping& mapping) {
  std::string flag;
  for (const auto& [role, column] : mapping.columns) {
    if (!flag.empty()) flag += ',';
    flag += role + "=" + column;
  }
  return flag;
}

// What the child's run says about the submission; Internal / Unavailable for the evaluator's own
// failures.
common::Status ReadVerdict(const ChildResult& run, const EvaluationOptions& options, EvaluationRecord& evaluation) {
  if (run.cancelled) return common::Status::Aborted("evaluation cancelled");
  if (run.timed_out) {
    evaluation.outcome = EvaluationOutcome::kFailed;
    evaluation.reason = "evaluation ran past its limit of " + std::to_string(options.timeout_ms) + " ms";
    return common::Status::Ok();
  }
  if (run.signal != 0) {
    evaluation.outcome = EvaluationOutcome::kFailed;
    evaluation.reason = run.signal == SIGXCPU || run.signal == SIGKILL
                            ? "evaluation exceeded its CPU-time limit or was killed"
                            : "evaluation crashed (signal " + std::to_string(run.signal) + ")";
    return common::Status::Ok();
  }
  if (run.exit_code == 127) return common::Status::Unavailable("cannot run the evaluator " + options.gradients_path);
  if (run.exit_code != 0) {
    return common::Status::Internal("the evaluator failed on the task's own inputs: " + Bounded(run.err_tail));
  }
  const nlohmann::json verdict = nlohmann::json::parse(run.out, nullptr, /*allow_exceptions=*/false);
  const auto failed = [&] {
    evaluation.outcome = EvaluationOutcome::kFailed;
    evaluation.reason = "the evaluator's answer was not understood";
    return common::Status::Ok();
  };
  if (!verdict.is_object() || !verdict.contains("status") || !verdict["status"].is_string()) return failed();
  const std::string status = verdict["status"].get<std::string>();
  if (status == "scored") {
    if (!verdict.contains("loss") || !verdict["loss"].is_number() || !verdict.contains("tokens") ||
        !verdict["tokens"].is_number_integer()) {
      return failed();
    }
    const double loss = verdict["loss"].get<double>();
    if (!std::isfinite(loss)) return failed();
    evaluation.outcome = EvaluationOutcome::kScored;
    evaluation.test_loss = loss;
    evaluation.tokens = verdict["tokens"].get<int64_t>();
    return common::Status::Ok();
  }
  if (status != "invalid" && status != "not_finetuned") return failed();
  evaluation.outcome = status == "invalid" ? EvaluationOutcome::kInvalid : EvaluationOutcome::kNotFinetuned;
  evaluation.reason =
      verdict.contains("reason") && verdict["reason"].is_string() ? Bounded(verdict["reason"].get<std::string>()) : "";
  return common::Status::Ok();
}

// The environment of an evaluation: nothing of the validator's that could change the numerics.
// The BLAS gets the configured threads (OpenBLAS would otherwise take every core, and the core
// count would change the sums); libtorch's own pool stays at one thread (`--threads 1`): both
// pools spinning on the same cores made an evaluation several times slower.
std::vector<std::string> EvaluationEnvironment(int threads) {
  std::vector<std::string> environment = {"PATH=/usr/local/bin:/usr/bin:/bin", "LC_ALL=C",
                                          "OPENBLAS_NUM_THREADS=" + std::to_string(threads),
                                          "OMP_NUM_THREADS=" + std::to_string(threads)};
  if (const char* libraries = std::getenv("LD_LIBRARY_PATH"); libraries != nullptr) {
    environment.push_back(std::string("LD_LIBRARY_PATH=") + libraries);
  }
  return environment;
}


// What an evaluating task is judged from: the task, its claims, its uploads and the verdicts
// already stored (a validator killed mid-evaluation judges only the rest).
struct EvaluationWork {
  TaskRecord task{};
  std::vector<ClaimRecord> claims{};
  std::vector<SubmissionRecord> submissions{};  // oldest first
  std::set<std::string> evaluated{};            // miners with a stored verdict
  std::string evaluator{};                      // the evaluator's version and settings, for the record
  std::filesystem::path work_dir{};             // where this task's files are laid out
};

common::Result<EvaluationWork> GatherEvaluationWork(TaskStore& task_store, ClaimStore& claim_store,
                                                    SubmissionStore& submission_store,
                                                    EvaluationStore& evaluation_store,
                                                    const EvaluationOptions& options, std::string_view task_id) {
  EvaluationWork work;
  GRADIENTS_ASSIGN_OR_RETURN(work.task, task_store.GetTask(task_id));
  if (work.task.status != TaskStatus::kEvaluating) {
    return common::Status::FailedPrecondition("task " + work.task.id + " is not evaluating");
  }
  GRADIENTS_ASSIGN_OR_RETURN(work.claims, claim_store.ListClaims(work.task.id));
  GRADIENTS_ASSIGN_OR_RETURN(work.submissions, submission_store.ListSubmissions(work.task.id));
  GRADIENTS_ASSIGN_OR_RETURN(const std::vector<EvaluationRecord> done, evaluation_store.ListEvaluations(work.task.id));
  for (const EvaluationRecord& evaluation : done) work.evaluated.insert(evaluation.miner);
  work.evaluator = "gradients-eval/" GRADIENTS_VERSION " blas_threads=" + std::to_string(options.threads) +
                   " max_len=" + std::to_string(options.max_length) + " float32 cpu";
  work.work_dir = options.work_dir / common::ToHex(std::span(reinterpret_cast<const uint8_t*>(work.task.id.data()),
                                                             work.task.id.size()));
  return work;
}

// A verdict for `miner` with the task's inputs filled in, its outcome still to be decided.
EvaluationRecord NewVerdict(const EvaluationWork& work, const std::string& miner, int64_t now_ms) {
  return EvaluationRecord{.task_id = work.task.id, .miner = miner, .outcome = EvaluationOutcome::kMissing,
                          .test_loss = std::nullopt, .tokens = 0, .reason = {}, .receipt_id = {},
                          .manifest_digest = {}, .received_at_ms = 0, .model_hash = work.task.model_hash,
                          .test_blob = work.task.test_blob, .split_seed = work.task.split_seed,
                          .evaluator = work.evaluator, .evaluated_at_ms = now_ms, .rank = 0, .points = 0};
}

// Claims without an upload and without a verdict are missing.
common::Status RecordMissing(EvaluationStore& evaluation_store, EvaluationWork& work, const common::ClockMs& now_ms) {
  std::set<std::string> uploaded;
  for (const SubmissionRecord& submission : work.submissions) uploaded.insert(submission.miner);
  for (const ClaimRecord& claim : work.claims) {
    if (work.evaluated.contains(claim.miner) || uploaded.contains(claim.miner)) continue;
    EvaluationRecord missing = NewVerdict(work, claim.miner, now_ms());
    missing.outcome = EvaluationOutcome::kMissing;
    missing.reason = "nothing was uploaded before the deadline";
    GRADIENTS_RETURN_IF_ERROR(evaluation_store.RecordEvaluation(missing));
    work.evaluated.insert(claim.miner);
  }
  return common::Status::Ok();
}

// The task's base model and hidden split laid out as files, and the limits of its evaluations.
struct LaidOutTask {
  EvaluationInputs inputs{};
  ChildLimits limits{};
};

common::Result<LaidOutTask> LayOutTask(CatalogStore& catalog_store, const BlobStore& blobs,
                                       const EvaluationOptions& options, const EvaluationWork& work) {
  GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(work.work_dir));
  GRADIENTS_ASSIGN_OR_RETURN(const ModelRecord model, catalog_store.GetModel(work.task.model_hash));
  for (const ModelFile& file : model.files) {
    if (!IsContainedPath(file.path)) return common::Status::DataLoss("model file path \"" + file.path + "\"");
    GRADIENTS_RETURN_IF_ERROR(PlaceBlob(blobs, file.blob, work.work_dir / "base" / file.path));
  }
  GRADIENTS_ASSIGN_OR_RETURN(const DatasetRecord dataset, catalog_store.GetDataset(work.task.dataset_hash));
  LaidOutTask laid_out{.inputs = {.base_model = work.work_dir / "base",
                                  .test_data = work.work_dir / ("test." + dataset.format),
                                  .format = work.task.type,
                                  .columns = ColumnsFlag(work.task.columns)},
                       .limits = EvaluationLimits(options, static_cast<uint64_t>(model.bytes()))};
  GRADIENTS_RETURN_IF_ERROR(PlaceBlob(blobs, work.task.test_blob, laid_out.inputs.test_data));
  return laid_out;
}

// The base alone, under the same limits: what fails here is the task's, not a miner's.
common::Status EvaluateBaseModel(const EvaluationOptions& options, const LaidOutTask& laid_out,
                                 const std::string& task_id, const std::atomic<bool>* cancel) {
  common::Result<ChildResult> run =
      RunLimitedChild(EvaluationCommand(options, laid_out.inputs, std::nullopt), laid_out.limits, cancel);
  if (!run.ok()) return run.status();
  if (run->cancelled) return common::Status::Aborted("evaluation cancelled");
  if (run->exit_code == 127) return common::Status::Unavailable("cannot run the evaluator " + options.gradients_path);
  if (run->exit_code != 0) {
    return common::Status::Internal("the base model cannot be evaluated on the test split within the limits: " +
                                    (run->timed_out     ? std::string("timed out")
                                     : run->signal != 0 ? "signal " + std::to_string(run->signal)
                                                        : Bounded(run->err_tail)));
  }
  common::GetLogger("validator")->info("task {}: the base model's test loss: {}", task_id, Bounded(run->out));
  return common::Status::Ok();
}

// A verdict for an upload, its outcome still to be decided.
EvaluationRecord UploadVerdict(const EvaluationWork& work, const SubmissionRecord& submission, int64_t now_ms) {
  EvaluationRecord evaluation = NewVerdict(work, submission.miner, now_ms);
  evaluation.receipt_id = submission.receipt_id;
  evaluation.manifest_digest = submission.manifest_digest;
  evaluation.received_at_ms = submission.received_at_ms;
  return evaluation;
}

// Lays the upload out beside the task's files and judges it in a limited `gradients eval` child.
common::Status JudgeUpload(const BlobStore& blobs, const EvaluationOptions& options, const EvaluationWork& work,
                           const LaidOutTask& laid_out, const SubmissionRecord& submission,
                           const std::atomic<bool>* cancel, EvaluationRecord& evaluation) {
  const std::filesystem::path checkpoint = work.work_dir / submission.receipt_id;
  GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(checkpoint));
  for (size_t i = 0; i < submission.manifest.files.size(); ++i) {
    const std::string& path = submission.manifest.files[i].path;
    if (!IsContainedPath(path)) return common::Status::DataLoss("submission file path \"" + path + "\"");
    GRADIENTS_RETURN_IF_ERROR(PlaceBlob(blobs, submission.file_blobs[i], checkpoint / path));
  }
  const std::vector<std::string> argv = EvaluationCommand(
      options, laid_out.inputs, JudgedCheckpoint{.dir = checkpoint, .kind = submission.manifest.kind});
  common::GetLogger("validator")->info("task {}: evaluating the upload {} of miner {}", work.task.id,
                                       submission.receipt_id, submission.miner);
  const auto started = std::chrono::steady_clock::now();
  common::Result<ChildResult> run = RunLimitedChild(argv, laid_out.limits, cancel);
  if (!run.ok()) return run.status();
  GRADIENTS_RETURN_IF_ERROR(ReadVerdict(*run, options, evaluation));
  options.on_evaluated(evaluation.outcome,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  return common::Status::Ok();
}

// Every upload without a verdict gets one, in upload order: a copy of an earlier upload (by
// manifest digest, whoever uploaded first keeps the credit) is a duplicate; any other is judged,
// the task's files laid out and its base model evaluated before the first.
common::Status JudgeUploads(CatalogStore& catalog_store, EvaluationStore& evaluation_store, const BlobStore& blobs,
                            const EvaluationOptions& options, const EvaluationWork& work,
                            const common::ClockMs& now_ms, const std::atomic<bool>* cancel) {
  std::optional<LaidOutTask> laid_out;
  std::set<std::string> digests_seen;
  for (const SubmissionRecord& submission : work.submissions) {
    const bool is_first = digests_seen.insert(submission.manifest_digest).second;
    if (work.evaluated.contains(submission.miner)) continue;
    EvaluationRecord evaluation = UploadVerdict(work, submission, now_ms());
    if (!is_first) {
      evaluation.outcome = EvaluationOutcome::kDuplicate;
      evaluation.reason = "the same checkpoint as an earlier upload by another miner";
      GRADIENTS_RETURN_IF_ERROR(evaluation_store.RecordEvaluation(evaluation));
      continue;
    }
    if (!laid_out) {
      GRADIENTS_ASSIGN_OR_RETURN(laid_out, LayOutTask(catalog_store, blobs, options, work));
      GRADIENTS_RETURN_IF_ERROR(EvaluateBaseModel(options, *laid_out, work.task.id, cancel));
    }
    GRADIENTS_RETURN_IF_ERROR(JudgeUpload(blobs, options, work, *laid_out, submission, cancel, evaluation));
    evaluation.evaluated_at_ms = now_ms();
    GRADIENTS_RETURN_IF_ERROR(evaluation_store.RecordEvaluation(evaluation));
    common::GetLogger("validator")->info(
        "task {}: miner {}: {}{}", work.task.id, submission.miner, EvaluationOutcomeName(evaluation.outcome),
        evaluation.test_loss ? " (loss " + std::to_string(*evaluation.test_loss) + ")" : " " + evaluation.reason);
    GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(work.work_dir / submission.receipt_id));
  }
  return common::RemoveTree(work.work_dir);
}

// Every claim has its verdict: the task ranked and scored in one transaction.
common::Status ScoreEvaluatedTask(EvaluationStore& evaluation_store, const EvaluationWork& work,
                                  const ScoringOptions& scoring, const common::ClockMs& now_ms) {
  GRADIENTS_ASSIGN_OR_RETURN(const std::vector<EvaluationRecord> evaluations,
                             evaluation_store.ListEvaluations(work.task.id));
  std::vector<SubmissionResult> results;
  for (const EvaluationRecord& evaluation : evaluations) {
    results.push_back({.miner = evaluation.miner, .outcome = evaluation.outcome,
                       .test_loss = evaluation.test_loss.value_or(0), .received_at_ms = evaluation.received_at_ms});
  }
  std::vector<EvaluationRecord> scores;
  for (const MinerPoints& points : ScoreTask(results, scoring)) {
    EvaluationRecord score = NewVerdict(work, points.miner, now_ms());
    score.rank = points.rank;
    score.points = points.points;
    scores.push_back(std::move(score));
  }
  GRADIENTS_RETURN_IF_ERROR(evaluation_store.RecordScores(work.task.id, scores, now_ms()));
  common::GetLogger("validator")->info("task {}: evaluating -> scored ({} claims)", work.task.id, scores.size());
  return common::Status::Ok();
}

}  // namespace

ChildLimits EvaluationLimits(const EvaluationOptions& options, uint64_t model_bytes) {
  return ChildLimits{
      .memory_bytes = options.memory_limit_bytes > 0 ? options.memory_limit_bytes : 8 * model_bytes + (uint64_t{4} << 30),
      .cpu_seconds = options.cpu_seconds > 0
                         ? options.cpu_seconds
                         : static_cast<uint64_t>(options.threads) * static_cast<uint64_t>(options.timeout_ms / 1000 + 1),
      .timeout_ms = options.timeout_ms,
      .max_stdout_bytes = 1 << 16,
      .max_stderr_bytes = 1 << 14,
      .stdin_file = {},
      .environment = EvaluationEnvironment(options.threads)};
}

std::vector<std::string> EvaluationCommand(const EvaluationOptions& options, const EvaluationInputs& inputs,
                                           const std::optional<JudgedCheckpoint>& submission) {
  std::vector<std::string> argv = {options.gradients_path, "eval"};
  if (submission) {
    argv.insert(argv.end(), {"--submission", submission->dir.string(), "--submission-kind",
                             submission->kind == common::CheckpointKind::kLoraAdapter ? "lora" : "full"});
  }
  argv.insert(argv.end(), {"--model", inputs.base_model.string(), "--data", inputs.test_data.string(), "--format",
                           inputs.format, "--columns", inputs.columns, "--max-len", std::to_string(options.max_length),
                           "--device", "cpu", "--dtype", "float32", "--threads", "1"});
  return argv;
}

common::Status StartEvaluations(TaskStore& task_store, int64_t now_ms) {
  common::Result<std::vector<TaskRecord>> training = task_store.ListTasks(TaskStatus::kTraining);
  if (!training.ok()) return training.status();
  for (const TaskRecord& task : *training) {
    if (now_ms <= task.deadline_ms) continue;
    common::Status moved = task_store.TransitionTask(task.id, TaskStatus::kTraining, TaskStatus::kEvaluating,
                                                     "the deadline passed", now_ms);
    if (moved.ok()) {
      common::GetLogger("validator")->info("task {}: training -> evaluating", task.id);
    } else if (moved.code() != common::StatusCode::kFailedPrecondition) {  // cancelled meanwhile: fine
      return moved;
    }
  }
  return common::Status::Ok();
}

common::Status EvaluateTask(CatalogStore& catalog_store, TaskStore& task_store, ClaimStore& claim_store,
                            SubmissionStore& submission_store, EvaluationStore& evaluation_store,
                            const BlobStore& blobs, const EvaluationOptions& options, const ScoringOptions& scoring,
                            std::string_view task_id, const common::ClockMs& now_ms, const std::atomic<bool>* cancel) {
  GRADIENTS_ASSIGN_OR_RETURN(EvaluationWork work, GatherEvaluationWork(task_store, claim_store, submission_store,
                                                                       evaluation_store, options, task_id));
  GRADIENTS_RETURN_IF_ERROR(RecordMissing(evaluation_store, work, now_ms));
  GRADIENTS_RETURN_IF_ERROR(JudgeUploads(catalog_store, evaluation_store, blobs, options, work, now_ms, cancel));
  return ScoreEvaluatedTask(evaluation_store, work, scoring, now_ms);
}

}  // namespace gradients::validator
