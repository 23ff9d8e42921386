// Who may claim a task, and when its pool is full (DESIGN.md, Task): the rules a new claim must
// pass, decided from the task and the claims it holds, with no I/O, so that every store backend
// decides alike. A backend reads what the rules need and applies the decision inside the
// transaction that records the claim (ClaimStore::ClaimTask, validator/state/claim_store.h). A
// miner's declared capacity is not among them: it decides whom a task is offered to
// (validator/market/offer_board.h), not whether an accepted offer is claimed.
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "validator/state/task_store.h"

namespace gradients::validator {

// The rule a claim breaks, the first in this order.
enum class ClaimRefusal {
  kNone,               // the claim may be recorded
  kOffersClosed,       // the task is not offering
  kDeadlinePassed,     // now is at or past the task's deadline
  kOfferWindowClosed,  // now is at or past the end of its offer window
  kPoolFull,           // it holds pool_size claims already
};

struct ClaimDecision {
  ClaimRefusal refusal = ClaimRefusal::kNone;
  std::string reason{};  // for a refusal: the task and the rule, as the miner is told
  // The claim takes the pool's last place: the task moves to training with it.
  bool fills_pool = false;

  bool allowed() const { return refusal == ClaimRefusal::kNone; }
  // OK, or FailedPrecondition with the reason.
  common::Status status() const;
};

// A new claim on `task`, which holds `claims_on_task` claims, at `now_ms`. (A miner that claimed
// the task already gets its claim again without asking the rules.)
ClaimDecision DecideClaim(const TaskRecord& task, int64_t claims_on_task, int64_t now_ms);

}  // namespace gradients::validator
