// Milliseconds since the Unix epoch (this project's clock values) to and from the protocol's
// google.protobuf.Timestamp and Duration.
#pragma once

#include <cstdint>

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include "common/status.h"

namespace gradients {

void SetTimestampMs(int64_t ms, google::protobuf::Timestamp* timestamp);
void SetDurationMs(int64_t ms, google::protobuf::Duration* duration);
// InvalidArgument outside Timestamp's range (years 1 to 9999, nanos below a second): a client sent it.
Result<int64_t> TimestampMs(const google::protobuf::Timestamp& timestamp);

}  // namespace gradients
