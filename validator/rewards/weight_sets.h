// Reward weights from stored scores (DESIGN.md, Evaluation and scoring): the inputs of a
// computation (every scored task in the longest window with its work and points, the scoring
// constants, the instant) are gathered, encoded canonically, digested and stored with the
// weights, so that anyone holding an exported audit log recomputes the same weights bit for bit
// (`gradients weights recompute`).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "validator/rewards/scoring.h"
#include "validator/state/catalog_store.h"
#include "validator/state/evaluation_store.h"
#include "validator/state/task_store.h"
#include "validator/state/weight_set_store.h"

namespace gradients::validator {

struct WeightInputs {
  int64_t now_ms = 0;
  ScoringOptions options{};
  std::vector<ScoredTask> tasks{};
};

// Canonical JSON (keys sorted, numbers in their shortest exact form): the bytes that are digested.
std::string EncodeWeightInputs(const WeightInputs& inputs);
// Strict: InvalidArgument naming what is missing or of the wrong type.
common::Result<WeightInputs> DecodeWeightInputs(std::string_view json);

// Every task scored in (since_ms, now_ms], oldest first, with its work (base model parameters in
// billions times training hours) and its points by miner.
common::Result<std::vector<ScoredTask>> ListScoredTasks(CatalogStore& catalog_store, TaskStore& task_store,
                                                        EvaluationStore& evaluation_store, int64_t since_ms,
                                                        int64_t now_ms);

// The scored tasks of the longest window before `now_ms` with the options.
common::Result<WeightInputs> GatherWeightInputs(CatalogStore& catalog_store, TaskStore& task_store,
                                                EvaluationStore& evaluation_store, const ScoringOptions& options,
                                                int64_t now_ms);

// The weights of `inputs` as a record (not stored): computed_at = now, the window is the longest.
WeightSetRecord MakeWeightSet(const WeightInputs& inputs);

// What weights.json holds and a sink command reads on stdin.
std::string WeightSetJson(const WeightSetRecord& weight_set, std::string_view validator_id);

// One line of an audit export per weight set (JSON: id, computed_at_ms, inputs, inputs_digest,
// weights), and the check of such a line: its digest matches its inputs and the weights computed
// from them equal the recorded ones. FailedPrecondition saying which does not hold.
std::string AuditLine(const WeightSetRecord& weight_set);
common::Status VerifyAuditLine(std::string_view line);

}  // namespace gradients::validator
