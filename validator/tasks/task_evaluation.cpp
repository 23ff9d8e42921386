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
  common::Result<TaskRecord> task = task_store.GetTask(task_id);
  if (!task.ok()) return task.status();
  if (task->status != TaskStatus::kEvaluating) return common::Status::FailedPrecondition("task " + task->id + " is not evaluating");
  common::Result<std::vector<ClaimRecord>> claims = claim_store.ListClaims(task->id);
  if (!claims.ok()) return claims.status();
  // Oldest first.
  common::Result<std::vector<SubmissionRecord>> submissions = submission_store.ListSubmissions(task->id);
  if (!submissions.ok()) return submissions.status();
  common::Result<std::vector<EvaluationRecord>> done = evaluation_store.ListEvaluations(task->id);
  if (!done.ok()) return done.status();
  std::set<std::string> evaluated;
  for (const EvaluationRecord& evaluation : *done) evaluated.insert(evaluation.miner);
  const std::string evaluator = "gradients-eval/" GRADIENTS_VERSION " blas_threads=" + std::to_string(options.threads) +
                                " max_len=" + std::to_string(options.max_length) + " float32 cpu";
  const auto record = [&](const std::string& miner) {
    return EvaluationRecord{.task_id = task->id, .miner = miner, .outcome = EvaluationOutcome::kMissing, .test_loss = std::nullopt,
                            .tokens = 0, .reason = {}, .receipt_id = {}, .manifest_digest = {},
                            .received_at_ms = 0, .model_hash = task->model_hash, .test_blob = task->test_blob,
                            .split_seed = task->split_seed, .evaluator = evaluator, .evaluated_at_ms = now_ms(),
                            .rank = 0, .points = 0};
  };
  auto log = common::GetLogger("validator");

  std::map<std::string, const SubmissionRecord*> by_miner;
  for (const SubmissionRecord& submission : *submissions) by_miner[submission.miner] = &submission;
  for (const ClaimRecord& claim : *claims) {
    if (evaluated.contains(claim.miner) || by_miner.contains(claim.miner)) continue;
    EvaluationRecord missing = record(claim.miner);
    missing.outcome = EvaluationOutcome::kMissing;
    missing.reason = "nothing was uploaded before the deadline";
    GRADIENTS_RETURN_IF_ERROR(evaluation_store.RecordEvaluation(missing));
    evaluated.insert(claim.miner);
  }

  const std::filesystem::path work = options.work_dir / common::ToHex(std::span(
                                                            reinterpret_cast<const uint8_t*>(task->id.data()),
                                                            task->id.size()));
  bool laid_out = false;
  EvaluationInputs inputs{.base_model = work / "base", .test_data = {}, .format = task->type, .columns = {}};
  ChildLimits limits;
  std::map<std::string, std::string> first_upload_of;  // manifest digest -> miner (uploads oldest first)
  for (const SubmissionRecord& submission : *submissions) {
    const auto [first, is_first] = first_upload_of.emplace(submission.manifest_digest, submission.miner);
    if (evaluated.contains(submission.miner)) continue;
    EvaluationRecord evaluation = record(submission.miner);
    evaluation.receipt_id = submission.receipt_id;
    evaluation.manifest_digest = submission.manifest_digest;
    evaluation.received_at_ms = submission.received_at_ms;
    if (!is_first) {
      evaluation.outcome = EvaluationOutcome::kDuplicate;
      evaluation.reason = "the same checkpoint as an earlier upload by another miner";
      GRADIENTS_RETURN_IF_ERROR(evaluation_store.RecordEvaluation(evaluation));
      continue;
    }
    if (!laid_out) {
      // The base model and the hidden split, once per task.
      GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(work));
      common::Result<ModelRecord> model = catalog_store.GetModel(task->model_hash);
      if (!model.ok()) return model.status();
      for (const ModelFile& file : model->files) {
        if (!IsContainedPath(file.path)) return common::Status::DataLoss("model file path \"" + file.path + "\"");
        GRADIENTS_RETURN_IF_ERROR(PlaceBlob(blobs, file.blob, work / "base" / file.path));
      }
      common::Result<DatasetRecord> dataset = catalog_store.GetDataset(task->dataset_hash);
      if (!dataset.ok()) return dataset.status();
      inputs.test_data = work / ("test." + dataset->format);
      GRADIENTS_RETURN_IF_ERROR(PlaceBlob(blobs, task->test_blob, inputs.test_data));
      inputs.columns = ColumnsFlag(task->columns);
      limits = EvaluationLimits(options, static_cast<uint64_t>(model->bytes()));
      // The base alone, under the same limits: what fails here is the task's, not a miner's.
      common::Result<ChildResult> run = RunLimitedChild(EvaluationCommand(options, inputs, std::nullopt), limits, cancel);
      if (!run.ok()) return run.status();
      if (run->cancelled) return common::Status::Aborted("evaluation cancelled");
      if (run->exit_code == 127) return common::Status::Unavailable("cannot run the evaluator " + options.gradients_path);
      if (run->exit_code != 0) {
        return common::Status::Internal("the base model cannot be evaluated on the test split within the limits: " +
                                (run->timed_out   ? std::string("timed out")
                                 : run->signal != 0 ? "signal " + std::to_string(run->signal)
                                                    : Bounded(run->err_tail)));
      }
      log->info("task {}: the base model's test loss: {}", task->id, Bounded(run->out));
      laid_out = true;
    }
    const std::filesystem::path checkpoint = work / submission.receipt_id;
    GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(checkpoint));
    for (size_t i = 0; i < submission.manifest.files.size(); ++i) {
      const std::string& path = submission.manifest.files[i].path;
      if (!IsContainedPath(path)) return common::Status::DataLoss("submission file path \"" + path + "\"");
      GRADIENTS_RETURN_IF_ERROR(PlaceBlob(blobs, submission.file_blobs[i], checkpoint / path));
    }
    const std::vector<std::string> argv =
        EvaluationCommand(options, inputs, JudgedCheckpoint{.dir = checkpoint, .kind = submission.manifest.kind});
    log->info("task {}: evaluating the upload {} of miner {}", task->id, submission.receipt_id, submission.miner);
    const auto started = std::chrono::steady_clock::now();
    common::Result<ChildResult> run = RunLimitedChild(argv, limits, cancel);
    if (!run.ok()) return run.status();
    GRADIENTS_RETURN_IF_ERROR(ReadVerdict(*run, options, evaluation));
    options.on_evaluated(evaluation.outcome,
                         std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    evaluation.evaluated_at_ms = now_ms();
    GRADIENTS_RETURN_IF_ERROR(evaluation_store.RecordEvaluation(evaluation));
    log->info("task {}: miner {}: {}{}", task->id, submission.miner, EvaluationOutcomeName(evaluation.outcome),
              evaluation.test_loss ? " (loss " + std::to_string(*evaluation.test_loss) + ")" : " " + evaluation.reason);
    GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(checkpoint));
  }
  GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(work));

  // Every claim has its verdict: rank and score.
  common::Result<std::vector<EvaluationRecord>> evaluations = evaluation_store.ListEvaluations(task->id);
  if (!evaluations.ok()) return evaluations.status();
  std::vector<SubmissionResult> results;
  for (const EvaluationRecord& evaluation : *evaluations) {
    results.push_back({.miner = evaluation.miner, .outcome = evaluation.outcome,
                       .test_loss = evaluation.test_loss.value_or(0), .received_at_ms = evaluation.received_at_ms});
  }
  std::vector<EvaluationRecord> scores;
  for (const MinerPoints& points : ScoreTask(results, scoring)) {
    EvaluationRecord score = record(points.miner);
    score.rank = points.rank;
    score.points = points.points;
    scores.push_back(std::move(score));
  }
  GRADIENTS_RETURN_IF_ERROR(evaluation_store.RecordScores(task->id, scores, now_ms()));
  log->info("task {}: evaluating -> scored ({} claims)", task->id, scores.size());
  return common::Status::Ok();
}

}  // namespace gradients::validator
