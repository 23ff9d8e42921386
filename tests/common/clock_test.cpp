#include "common/clock.h"

#include <gtest/gtest.h>

#include <limits>

namespace gradients::common {
namespace {

TEST(Clock, MillisecondsAndTimePointsRoundTrip) {
  for (int64_t ms : {int64_t{0}, int64_t{1'800'000'000'123}, int64_t{-1'500}}) {
    EXPECT_EQ(MsOfTimePoint(TimePointOfMs(ms)), ms);
  }
  EXPECT_EQ(TimePointOfMs(1'000), std::chrono::system_clock::time_point(std::chrono::seconds(1)));
  const int64_t now = SystemClockMs();
  EXPECT_LE(now, MsOfTimePoint(std::chrono::system_clock::now()));
}

TEST(Clock, AReadingPastWhatTheSystemClockHoldsSaturates) {
  EXPECT_GT(TimePointOfMs(std::numeric_limits<int64_t>::max()), TimePointOfMs(7'258'118'400'000));  // 2200
  EXPECT_LT(TimePointOfMs(std::numeric_limits<int64_t>::min()), TimePointOfMs(0));
}

}  // namespace
}  // namespace gradients::common
