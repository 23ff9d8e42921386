// Between this project's Status and grpc::Status: handlers return precise gRPC codes for the
// errors the services report, and clients turn a failed call back into a Status. The codes map
// one to one (both follow the same canonical list), except this project's own IO_ERROR (sent as
// INTERNAL) and DIVERGED (sent as FAILED_PRECONDITION); messages pass unchanged.
#pragma once

#include <grpcpp/support/status.h>

#include "common/status.h"

namespace gradients::proto {

grpc::Status ToGrpcStatus(const common::Status& status);
common::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace gradients::proto
