// The evaluating step of a task (DESIGN.md, Evaluation and scoring): after the deadline each
// claim gets its verdict. A claim without an upload is missing; an upload whose manifest equals
// an earlier one of another miner is a duplicate (the earliest keeps the credit); every other upload
// is judged and evaluated on the hidden test split by `gradients eval` in a child process under
// memory, CPU-time and wall-clock limits, so a hostile checkpoint can crash only that child. The
// base model alone is evaluated first under the same limits: if that fails, the task's own inputs
// are at fault and no miner is blamed. Each
// verdict is stored with its inputs as soon as it is known (a validator killed mid-evaluation
// evaluates only the rest after its restart, and evaluation is deterministic); once every claim has
// one, the task is ranked by loss and scored in one transaction.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/checkpoint_manifest.h"
#include "common/clock.h"
#include "common/status.h"
#include "validator/rewards/scoring.h"
#include "validator/state/blob_store.h"
#include "validator/state/catalog_store.h"
#include "validator/state/claim_store.h"
#include "validator/state/evaluation_store.h"
#include "validator/state/submission_store.h"
#include "validator/state/task_store.h"
#include "validator/tasks/child_process.h"

namespace gradients::validator {

struct EvaluationOptions {
  std::string gradients_path{};  // the `gradients` program that runs `gradients eval`
  // Limits of each evaluation child. Memory: its address space; 0: eight times the base model's
  // bytes plus 4 GiB (room for float32 copies of a base and a full fine-tune). CPU seconds: 0:
  // `threads` times the timeout, so that only a run that also hits the wall-clock limit hits it.
  uint64_t memory_limit_bytes = 0;
  uint64_t cpu_seconds = 0;
  int64_t timeout_ms = 3'600'000;
  int threads = 2;  // fixed, so that a loss is reproduced bit for bit on the same machine
  int64_t max_length = 2048;
  std::filesystem::path work_dir{};  // where base models, splits and submissions are laid out
  // Told of each submission's evaluation in a child: its outcome and how long it took.
  std::function<void(EvaluationOutcome outcome, double seconds)> on_evaluated = [](EvaluationOutcome, double) {};
};

// What one evaluation judges on, laid out as files: the base model's directory and the hidden
// test split, with the task's dataset format and its --columns mapping (empty: the format's default).
struct EvaluationInputs {
  std::filesystem::path base_model{};
  std::filesystem::path test_data{};
  std::string format{};
  std::string columns{};
};

// A laid-out checkpoint to judge.
struct JudgedCheckpoint {
  std::filesystem::path dir{};
  common::CheckpointKind kind = common::CheckpointKind::kLoraAdapter;
};

// The `gradients eval` command line the validator judges with: float32 on the CPU with one
// libtorch thread (the BLAS threads are in the limits' environment), rows cut at max_length; the
// base model alone without `submission`. Whatever must judge as the validator does (bench/market)
// builds its command and limits here.
std::vector<std::string> EvaluationCommand(const EvaluationOptions& options, const EvaluationInputs& inputs,
                                           const std::optional<JudgedCheckpoint>& submission);
// The limits and the environment of an evaluation child for a base model of `model_bytes`.
ChildLimits EvaluationLimits(const EvaluationOptions& options, uint64_t model_bytes);

// Training tasks whose deadline has passed move to evaluating.
common::Status StartEvaluations(TaskStore& task_store, int64_t now_ms);

// Evaluates what of an evaluating task is not evaluated yet, then scores it. Unavailable when the
// evaluator cannot be run at all (the task stays evaluating); Aborted when `cancel` turned true (the
// rest is evaluated after a restart); Internal when the evaluator failed on the task's own inputs
// (its base model or test split; the caller fails the task, since no miner is to blame).
common::Status EvaluateTask(CatalogStore& catalog_store, TaskStore& task_store, ClaimStore& claim_store,
                            SubmissionStore& submission_store, EvaluationStore& evaluation_store,
                            const BlobStore& blobs, const EvaluationOptions& options, const ScoringOptions& scoring,
                            std::string_view task_id, const common::ClockMs& now_ms,
                            const std::atomic<bool>* cancel = nullptr);

}  // namespace gradients::validator
