// Milliseconds since the Unix epoch (this project's clock values) to and from the protocol's
// google.protobuf.Timestamp and Duration; a peer's deadline also as a time point.
#pragma once

#include <chrono>
#include <cstdint>

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include "common/status.h"

namespace gradients::proto {

void SetTimestampMs(int64_t ms, google::protobuf::Timestamp* timestamp);
void SetDurationMs(int64_t ms, google::protobuf::Duration* duration);
// InvalidArgument outside Timestamp's range (years 1 to 9999, nanos below a second): a client sent it.
common::Result<int64_t> TimestampMs(const google::protobuf::Timestamp& timestamp);
// A deadline a peer sent, as milliseconds the clocks can hold: one outside Timestamp's range or
// before 1970 counts as 0 (passed), one after 2200 as 2200 (std::chrono::system_clock's nanoseconds
// end in 2262).
int64_t DeadlineMsOf(const google::protobuf::Timestamp& timestamp);
// The same deadline as a time point: where a peer's deadline enters, converted once.
std::chrono::system_clock::time_point DeadlineOf(const google::protobuf::Timestamp& timestamp);

}  // namespace gradients::proto
