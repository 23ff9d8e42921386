// Milliseconds since the Unix epoch (this project's clock values) to and from the protocol's
// google.protobuf.Timestamp and Duration.
#pragma once

#include <cstdint>

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

namespace gradients {

void SetTimestampMs(int64_t ms, google::protobuf::Timestamp* timestamp);
void SetDurationMs(int64_t ms, google::protobuf::Duration* duration);
int64_t TimestampMs(const google::protobuf::Timestamp& timestamp);

}  // namespace gradients
