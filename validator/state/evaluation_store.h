// Evaluations and scores: each claim's verdict with every input it depends on, and, once a task is
// scored, its ranks and points. One record family of the validator's store
// (validator/state/store.h: every method is one transaction; implementations are safe to call from
// several threads).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "validator/state/evaluation_outcome.h"

namespace gradients::validator {

// The evaluation of one claim of a task, with every input it depends on (so a score can be traced
// and checked), and once the task is scored its rank and points.
struct EvaluationRecord {
  std::string task_id{};
  std::string miner{};
  EvaluationOutcome outcome = EvaluationOutcome::kMissing;
  std::optional<double> test_loss{};  // for scored
  int64_t tokens = 0;                 // test tokens the loss is the mean over
  std::string reason{};               // why not scored
  std::string receipt_id{};           // the submission evaluated; empty for missing
  std::string manifest_digest{};
  int64_t received_at_ms = 0;
  // The inputs: base model, hidden split, the dataset's split seed, the evaluator's version.
  std::string model_hash{};
  std::string test_blob{};
  std::string split_seed{};
  std::string evaluator{};
  int64_t evaluated_at_ms = 0;
  int64_t rank = 0;  // set when the task is scored
  double points = 0;
  friend bool operator==(const EvaluationRecord&, const EvaluationRecord&) = default;
};

class EvaluationStore {
 public:
  virtual ~EvaluationStore() = default;

  // Records (or replaces) the evaluation of a claim of a task that is evaluating.
  virtual common::Status RecordEvaluation(const EvaluationRecord& evaluation) = 0;
  // By miner.
  virtual common::Result<std::vector<EvaluationRecord>> ListEvaluations(std::string_view task_id) = 0;
  // Ranks and points for a task that is evaluating, and the task scored, in one transaction: every
  // claim must have its evaluation (FailedPrecondition otherwise).
  virtual common::Status RecordScores(std::string_view task_id, const std::vector<EvaluationRecord>& scores,
                                      int64_t at_ms) = 0;
  // For monitoring: evaluations by outcome (DataLoss for a stored outcome of no known name).
  virtual common::Result<std::map<EvaluationOutcome, int64_t>> CountEvaluationsByOutcome() = 0;
};

}  // namespace gradients::validator
