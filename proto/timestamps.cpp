#include "proto/timestamps.h"

#include <algorithm>

#include "common/clock.h"

namespace gradients::proto {

void SetTimestampMs(int64_t ms, google::protobuf::Timestamp* timestamp) {
  // Floor division: a negative time keeps nanos in [0, 1e9), as Timestamp requires.
  int64_t seconds = ms / 1000, rest = ms % 1000;
  if (rest < 0) {
    --seconds;
    rest += 1000;
  }
  timestamp->set_seconds(seconds);
  timestamp->set_nanos(static_cast<int32_t>(rest * 1'000'000));
}

void SetDurationMs(int64_t ms, google::protobuf::Duration* duration) {
  duration->set_seconds(ms / 1000);  // a Duration's nanos share the sign of its seconds
  duration->set_nanos(static_cast<int32_t>((ms % 1000) * 1'000'000));
}

common::Result<int64_t> TimestampMs(const google::protobuf::Timestamp& timestamp) {
  constexpr int64_t kMinSeconds = -62'135'596'800, kMaxSeconds = 253'402'300'799;  // 0001-01-01 to 9999-12-31
  if (timestamp.seconds() < kMinSeconds || timestamp.seconds() > kMaxSeconds || timestamp.nanos() < 0 ||
      timestamp.nanos() >= 1'000'000'000) {
    return common::Status::InvalidArgument("timestamp out of range (seconds " + std::to_string(timestamp.seconds()) +
                                   ", nanos " + std::to_string(timestamp.nanos()) + ")");
  }
  return timestamp.seconds() * 1000 + timestamp.nanos() / 1'000'000;
}

int64_t DeadlineMsOf(const google::protobuf::Timestamp& timestamp) {
  constexpr int64_t kYear2200Ms = 7'258'118'400'000;
  const common::Result<int64_t> ms = TimestampMs(timestamp);
  return ms.ok() ? std::clamp<int64_t>(*ms, 0, kYear2200Ms) : 0;
}

std::chrono::system_clock::time_point DeadlineOf(const google::protobuf::Timestamp& timestamp) {
  return common::TimePointOfMs(DeadlineMsOf(timestamp));
}

}  // namespace gradients::proto
