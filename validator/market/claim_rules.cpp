#include "validator/market/claim_rules.h"

#include <utility>

namespace gradients::validator {

common::Status ClaimDecision::status() const {
  return allowed() ? common::Status::Ok() : common::Status::FailedPrecondition(reason);
}

ClaimDecision DecideClaim(const TaskRecord& task, int64_t claims_on_task, int64_t now_ms) {
  const std::string name = "task " + task.id.substr(0, 80);
  const auto refuse = [](ClaimRefusal refusal, std::string reason) {
    return ClaimDecision{.refusal = refusal, .reason = std::move(reason), .fills_pool = false};
  };
  if (task.status != TaskStatus::kOffering) {
    return refuse(ClaimRefusal::kOffersClosed,
                  name + " is " + std::string(TaskStatusName(task.status)) + ": its offers are closed");
  }
  if (now_ms >= task.deadline_ms) return refuse(ClaimRefusal::kDeadlinePassed, name + ": its deadline has passed");
  if (now_ms >= task.offer_closes_at_ms) {
    return refuse(ClaimRefusal::kOfferWindowClosed, name + ": its offer window has closed");
  }
  if (claims_on_task >= task.pool_size) return refuse(ClaimRefusal::kPoolFull, name + ": its pool is full");
  return ClaimDecision{
      .refusal = ClaimRefusal::kNone, .reason = {}, .fills_pool = claims_on_task + 1 == task.pool_size};
}

}  // namespace gradients::validator
