#include "proto/timestamps.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace gradients::proto {
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
  EXPECT_EQ(TimestampMs(hostile).status().code(), common::StatusCode::kInvalidArgument);
  hostile.set_seconds(0);
  hostile.set_nanos(-5);
  EXPECT_EQ(TimestampMs(hostile).status().code(), common::StatusCode::kInvalidArgument);
  google::protobuf::Duration duration;
  SetDurationMs(5'250, &duration);
  EXPECT_EQ(duration.seconds(), 5);
  EXPECT_EQ(duration.nanos(), 250'000'000);
}

TEST(Timestamps, APeersDeadlineIsKeptWithinWhatTheClocksHold) {
  google::protobuf::Timestamp deadline;
  SetTimestampMs(1'800'000'000'123, &deadline);
  EXPECT_EQ(DeadlineMsOf(deadline), 1'800'000'000'123);
  deadline.set_seconds(253'402'300'799);                 // 9999-12-31: valid, but past what system_clock holds
  EXPECT_EQ(DeadlineMsOf(deadline), 7'258'118'400'000);  // 2200-01-01
  deadline.set_seconds(-100);
  EXPECT_EQ(DeadlineMsOf(deadline), 0);
  deadline.set_seconds(INT64_MAX);
  EXPECT_EQ(DeadlineMsOf(deadline), 0);  // not a timestamp: counts as passed
}

TEST(Timestamps, APeersDeadlineIsATimePointOfTheSameMillisecond) {
  google::protobuf::Timestamp deadline;
  SetTimestampMs(1'800'000'000'123, &deadline);
  EXPECT_EQ(DeadlineOf(deadline), std::chrono::system_clock::time_point(std::chrono::milliseconds(1'800'000'000'123)));
  deadline.set_seconds(253'402'300'799);
  EXPECT_EQ(DeadlineOf(deadline), std::chrono::system_clock::time_point(std::chrono::milliseconds(7'258'118'400'000)));
  deadline.set_seconds(INT64_MAX);
  EXPECT_EQ(DeadlineOf(deadline), std::chrono::system_clock::time_point());
}

}  // namespace
}  // namespace gradients::proto
