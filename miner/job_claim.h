// A claim the miner won, as its jobs take it: the validator's message (what the job reads the task,
// its id and the claim's nonce from, and what claim.pb keeps) and the task's deadline, converted
// once from the message's Timestamp where the claim comes in: the offer stream (miner/offer_loop.h),
// or claim.pb when a restarted miner resumes the job (miner/job_journal.h).
#pragma once

#include <chrono>
#include <string>

#include "gradients/v1/miner_gateway.pb.h"

namespace gradients::miner {

struct JobClaim {
  v1::Claim message;
  std::chrono::system_clock::time_point deadline;  // everything, the upload included, is due by then

  const std::string& task_id() const { return message.task_id(); }
  const v1::TaskSpec& task() const { return message.task(); }
};

// The deadline read as proto::DeadlineOf does (clamped to what the clocks hold).
JobClaim ToJobClaim(v1::Claim message);

}  // namespace gradients::miner
