#include "miner/job_claim.h"

#include <utility>

#include "proto/timestamps.h"

namespace gradients::miner {

JobClaim ToJobClaim(v1::Claim message) {
  const std::chrono::system_clock::time_point deadline = proto::DeadlineOf(message.task().deadline());
  return JobClaim{.message = std::move(message), .deadline = deadline};
}

}  // namespace gradients::miner
