#include "validator/market/miner_limits.h"

#include <gtest/gtest.h>

namespace gradients::validator {
namespace {

TEST(MinerLimits, ABurstIsAdmittedThenTheRateRefillsIt) {
  MinerLimits limits({.requests_per_second = 2, .request_burst = 3, .max_streams = 1});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limits.Admit("a", 1000).ok());
  const common::Status refused = limits.Admit("a", 1000);
  EXPECT_EQ(refused.code(), common::StatusCode::kResourceExhausted);
  EXPECT_EQ(refused.message(), "rate limit: at most 2 calls per second; retry with backoff");
  EXPECT_TRUE(limits.Admit("b", 1000).ok());  // another miner has its own bucket
  EXPECT_TRUE(limits.Admit("a", 1500).ok());  // half a second: one more call
  EXPECT_FALSE(limits.Admit("a", 1500).ok());
  EXPECT_TRUE(limits.Admit("a", 60'000).ok());
}

TEST(MinerLimits, StreamSlotsAreHeldUntilReleased) {
  MinerLimits limits({.requests_per_second = 1, .request_burst = 1, .max_streams = 2});
  common::Result<MinerLimits::StreamSlot> first = limits.OpenStream("a");
  common::Result<MinerLimits::StreamSlot> second = limits.OpenStream("a");
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(limits.OpenStream("a").status().code(), common::StatusCode::kResourceExhausted);
  EXPECT_TRUE(limits.OpenStream("b").ok());
  { MinerLimits::StreamSlot released = std::move(*first); }
  EXPECT_TRUE(limits.OpenStream("a").ok());
}

}  // namespace
}  // namespace gradients::validator
