// What became of a miner's claim, as the protocol shows it: to the miner (MinerResult, from
// GetMyResults) and to the operator (Admin GetTask's assignments and submissions).
#pragma once

#include <optional>
#include <vector>

#include "common/status.h"
#include "gradients/v1/admin.pb.h"
#include "gradients/v1/miner_gateway.pb.h"
#include "validator/state/claim_store.h"
#include "validator/state/evaluation_store.h"
#include "validator/state/submission_store.h"
#include "validator/state/task_store.h"

namespace gradients::validator {

struct ClaimOutcome {
  ClaimRecord claim{};
  std::optional<SubmissionRecord> submission{};
  std::optional<EvaluationRecord> evaluation{};
};

// Every claim of a task with its submission and evaluation, in claim order.
common::Result<std::vector<ClaimOutcome>> ListClaimOutcomes(ClaimStore& claim_store, SubmissionStore& submission_store,
                                                            EvaluationStore& evaluation_store, const TaskRecord& task);
// One miner's claim on a task with its submission and evaluation.
common::Result<ClaimOutcome> GetClaimOutcome(SubmissionStore& submission_store, EvaluationStore& evaluation_store,
                                             const ClaimRecord& claim);

// Received before evaluation, evaluating while the task is, then the evaluation's verdict.
v1::SubmissionStatus OutcomeStatus(const ClaimOutcome& outcome, TaskStatus task_status);

common::Status FillMinerResult(const ClaimOutcome& outcome, const TaskRecord& task, v1::MinerResult* out);
common::Status FillAssignment(const ClaimOutcome& outcome, v1::Assignment* out);
common::Status FillSubmission(const ClaimOutcome& outcome, TaskStatus task_status, v1::Submission* out);

}  // namespace gradients::validator
