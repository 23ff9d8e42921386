#include "validator/market/miner_limits.h"

#include <algorithm>

namespace gradients::validator {
namespace {

// Every this many calls, buckets idle long enough to be full again are dropped (a full bucket and
// no bucket behave the same), so the map holds only recently active miners.
constexpr int64_t kPruneEvery = 10'000;

}  // namespace

common::Status MinerLimits::Admit(const std::string& miner, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  if (++admitted_ >= kPruneEvery) {
    admitted_ = 0;
    const double refill_ms = options_.request_burst / options_.requests_per_second * 1000;
    std::erase_if(buckets_, [&](const auto& entry) { return now_ms - entry.second.updated_ms > refill_ms; });
  }
  auto [bucket, created] = buckets_.try_emplace(miner, Bucket{.tokens = options_.request_burst, .updated_ms = now_ms});
  Bucket& state = bucket->second;
  if (!created) {
    const double elapsed_s = static_cast<double>(std::max<int64_t>(0, now_ms - state.updated_ms)) / 1000;
    state.tokens = std::min(options_.request_burst, state.tokens + elapsed_s * options_.requests_per_second);
    state.updated_ms = now_ms;
  }
  if (state.tokens < 1) {
    return common::Status::ResourceExhausted("rate limit: at most " + std::to_string(static_cast<int64_t>(options_.requests_per_second)) +
                                     " calls per second; retry with backoff");
  }
  state.tokens -= 1;
  return common::Status::Ok();
}

common::Result<MinerLimits::StreamSlot> MinerLimits::OpenStream(const std::string& miner) {
  std::lock_guard lock(mutex_);
  int64_t& open = streams_[miner];
  if (open >= options_.max_streams) {
    return common::Status::ResourceExhausted("at most " + std::to_string(options_.max_streams) +
                                     " fetches and uploads open at once per miner");
  }
  ++open;
  return StreamSlot(this, miner);
}

MinerLimits::StreamSlot::~StreamSlot() {
  if (limits_ == nullptr) return;
  std::lock_guard lock(limits_->mutex_);
  auto open = limits_->streams_.find(miner_);
  if (open != limits_->streams_.end() && --open->second <= 0) limits_->streams_.erase(open);
}

}  // namespace gradients::validator
