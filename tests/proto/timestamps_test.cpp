#include "proto/timestamps.h"

#include <cstdint>

#include <gtest/gtest.h>

namespace gradients {
namespace {

TEST(Timestamps, MillisecondsRoundTripIncludingBeforeTheEpoch) {
  for (int64_t ms : {int64_t{0}, int64_t{1'700'000'000'123}, int64_t{-1}, int64_t{-1'500}}) {
    google::protobuf::Timestamp timestamp;
    SetTimestampMs(ms, &timestamp);
    EXPECT_GE(timestamp.nanos(), 0) << ms;
    EXPECT_LT(timestamp.nanos(), 1'000'000'000) << ms;
    EXPECT_EQ(*TimestampMs(timestamp), ms);
  }
  google::protobuf::Timestamp hostile;
  hostile.set_seconds(INT64_MAX);
  EXPECT_EQ(TimestampMs(hostile).status().code(), StatusCode::kInvalidArgument);
  hostile.set_seconds(0);
  hostile.set_nanos(-5);
  EXPECT_EQ(TimestampMs(hostile).status().code(), StatusCode::kInvalidArgument);
  google::protobuf::Duration duration;
  SetDurationMs(5'250, &duration);
  EXPECT_EQ(duration.seconds(), 5);
  EXPECT_EQ(duration.nanos(), 250'000'000);
}

}  // namespace
}  // namespace gradients
