#include "validator/market/claim_outcomes.h"

#include <map>

#include <google/protobuf/util/json_util.h>

#include "common/keys.h"
#include "common/utf8.h"
#include "proto/checkpoint_messages.h"
#include "proto/timestamps.h"
#include "validator/rewards/scoring.h"
#include "validator/tasks/task_spec.h"

namespace gradients::validator {
namespace {

constexpr size_t kMaxReasonBytes = 256;

v1::SubmissionStatus VerdictStatus(EvaluationOutcome outcome) {
  switch (outcome) {
    case EvaluationOutcome::kScored:
      return v1::SUBMISSION_STATUS_SCORED;
    case EvaluationOutcome::kNotFinetuned:
      return v1::SUBMISSION_STATUS_NOT_FINETUNED;
    case EvaluationOutcome::kDuplicate:
      return v1::SUBMISSION_STATUS_DUPLICATE;
    case EvaluationOutcome::kFailed:
      return v1::SUBMISSION_STATUS_FAILED;
    case EvaluationOutcome::kMissing:
      return v1::SUBMISSION_STATUS_MISSING;
    case EvaluationOutcome::kInvalid:
      break;
  }
  return v1::SUBMISSION_STATUS_INVALID;
}

common::Result<std::string> KeyBytes(const std::string& hex) {
  common::Result<common::PublicKey> key = common::PublicKey::FromHex(hex);
  if (!key.ok()) return common::Status::DataLoss("stored miner key " + hex.substr(0, 80));
  return std::string(key->bytes.begin(), key->bytes.end());
}

}  // namespace

common::Result<std::vector<ClaimOutcome>> ListClaimOutcomes(ClaimStore& claim_store, SubmissionStore& submission_store,
                                                            EvaluationStore& evaluation_store, const TaskRecord& task) {
  common::Result<std::vector<ClaimRecord>> claims = claim_store.ListClaims(task.id);
  if (!claims.ok()) return claims.status();
  common::Result<std::vector<SubmissionRecord>> submissions = submission_store.ListSubmissions(task.id);
  if (!submissions.ok()) return submissions.status();
  common::Result<std::vector<EvaluationRecord>> evaluations = evaluation_store.ListEvaluations(task.id);
  if (!evaluations.ok()) return evaluations.status();
  std::map<std::string, SubmissionRecord> by_miner;
  for (SubmissionRecord& submission : *submissions) by_miner[submission.miner] = std::move(submission);
  std::map<std::string, EvaluationRecord> verdicts;
  for (EvaluationRecord& evaluation : *evaluations) verdicts[evaluation.miner] = std::move(evaluation);
  std::vector<ClaimOutcome> outcomes;
  for (ClaimRecord& claim : *claims) {
    ClaimOutcome& outcome = outcomes.emplace_back(ClaimOutcome{.claim = std::move(claim)});
    if (auto found = by_miner.find(outcome.claim.miner); found != by_miner.end()) outcome.submission = found->second;
    if (auto found = verdicts.find(outcome.claim.miner); found != verdicts.end()) outcome.evaluation = found->second;
  }
  return outcomes;
}

common::Result<ClaimOutcome> GetClaimOutcome(SubmissionStore& submission_store, EvaluationStore& evaluation_store,
                                             const ClaimRecord& claim) {
  ClaimOutcome outcome{.claim = claim};
  common::Result<SubmissionRecord> submission = submission_store.GetSubmission(claim.task_id, claim.miner);
  if (submission.ok()) {
    outcome.submission = std::move(*submission);
  } else if (submission.status().code() != common::StatusCode::kNotFound) {
    return submission.status();
  }
  common::Result<std::vector<EvaluationRecord>> evaluations = evaluation_store.ListEvaluations(claim.task_id);
  if (!evaluations.ok()) return evaluations.status();
  for (EvaluationRecord& evaluation : *evaluations) {
    if (evaluation.miner == claim.miner) outcome.evaluation = std::move(evaluation);
  }
  return outcome;
}

v1::SubmissionStatus OutcomeStatus(const ClaimOutcome& outcome, TaskStatus task_status) {
  if (outcome.evaluation) return VerdictStatus(outcome.evaluation->outcome);
  if (!outcome.submission) {
    // Nothing yet; after the deadline nothing more can come.
    return task_status == TaskStatus::kEvaluating || task_status == TaskStatus::kScored
               ? v1::SUBMISSION_STATUS_MISSING
               : v1::SUBMISSION_STATUS_UNSPECIFIED;
  }
  return task_status == TaskStatus::kEvaluating ? v1::SUBMISSION_STATUS_EVALUATING : v1::SUBMISSION_STATUS_RECEIVED;
}

common::Status FillMinerResult(const ClaimOutcome& outcome, const TaskRecord& task, v1::MinerResult* out) {
  out->set_task_id(task.id);
  out->set_type(proto::ToProtoType(task.type));
  out->set_status(OutcomeStatus(outcome, task.status));
  if (outcome.evaluation) {
    if (outcome.evaluation->test_loss) out->set_test_loss(*outcome.evaluation->test_loss);
    out->set_rank(static_cast<uint32_t>(outcome.evaluation->rank));
    out->set_points(outcome.evaluation->points);
    out->set_status_reason(common::ToValidUtf8(outcome.evaluation->reason.substr(0, kMaxReasonBytes)));
  }
  if (task.status == TaskStatus::kScored) proto::SetTimestampMs(task.scored_at_ms, out->mutable_scored_at());
  if (outcome.submission) out->set_receipt_id(outcome.submission->receipt_id);
  return common::Status::Ok();
}

common::Status FillAssignment(const ClaimOutcome& outcome, v1::Assignment* out) {
  common::Result<std::string> key = KeyBytes(outcome.claim.miner);
  if (!key.ok()) return key.status();
  out->set_miner_public_key(*key);
  proto::SetTimestampMs(outcome.claim.claimed_at_ms, out->mutable_claimed_at());
  if (!outcome.claim.progress.empty() &&
      google::protobuf::util::JsonStringToMessage(outcome.claim.progress, out->mutable_last_progress()).ok()) {
    proto::SetTimestampMs(outcome.claim.progress_at_ms, out->mutable_last_progress_at());
  } else {
    out->clear_last_progress();
  }
  return common::Status::Ok();
}

common::Status FillSubmission(const ClaimOutcome& outcome, TaskStatus task_status, v1::Submission* out) {
  common::Result<std::string> key = KeyBytes(outcome.claim.miner);
  if (!key.ok()) return key.status();
  out->set_miner_public_key(*key);
  if (outcome.submission) {
    out->set_receipt_id(outcome.submission->receipt_id);
    proto::ToProto(outcome.submission->manifest, out->mutable_manifest());
    GRADIENTS_RETURN_IF_ERROR(SetDigest(outcome.submission->manifest_digest, out->mutable_manifest_digest()));
    proto::SetTimestampMs(outcome.submission->received_at_ms, out->mutable_received_at());
  }
  out->set_status(OutcomeStatus(outcome, task_status));
  if (outcome.evaluation) {
    if (outcome.evaluation->test_loss) out->set_test_loss(*outcome.evaluation->test_loss);
    out->set_rank(static_cast<uint32_t>(outcome.evaluation->rank));
    out->set_points(outcome.evaluation->points);
    out->set_status_reason(common::ToValidUtf8(outcome.evaluation->reason.substr(0, kMaxReasonBytes)));
  }
  return common::Status::Ok();
}

}  // namespace gradients::validator
