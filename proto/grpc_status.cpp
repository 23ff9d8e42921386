#include "proto/grpc_status.h"

#include <array>
#include <utility>

namespace gradients::proto {
namespace {

constexpr std::array<std::pair<common::StatusCode, grpc::StatusCode>, 16> kCodes = {{
    {common::StatusCode::kOk, grpc::StatusCode::OK},
    {common::StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
    {common::StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
    {common::StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
    {common::StatusCode::kPermissionDenied, grpc::StatusCode::PERMISSION_DENIED},
    {common::StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
    {common::StatusCode::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
    {common::StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
    {common::StatusCode::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
    {common::StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
    {common::StatusCode::kAborted, grpc::StatusCode::ABORTED},
    {common::StatusCode::kDataLoss, grpc::StatusCode::DATA_LOSS},
    {common::StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
    {common::StatusCode::kInternal, grpc::StatusCode::INTERNAL},
    // The server's own failure, not the caller's; INTERNAL reads back as kInternal (the entry above).
    {common::StatusCode::kIoError, grpc::StatusCode::INTERNAL},
    // A run that diverged cannot go on as it is; FAILED_PRECONDITION reads back as kFailedPrecondition.
    {common::StatusCode::kDiverged, grpc::StatusCode::FAILED_PRECONDITION},
}};

}  // namespace

grpc::Status ToGrpcStatus(const common::Status& status) {
  for (const auto& [ours, theirs] : kCodes) {
    if (ours == status.code()) return {theirs, status.message()};
  }
  return {grpc::StatusCode::UNKNOWN, status.message()};
}

common::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return common::Status::Ok();
  for (const auto& [ours, theirs] : kCodes) {
    if (theirs == status.error_code()) return common::Status(ours, status.error_message());
  }
  // A call the other side does not serve will not succeed on retry: versions differ.
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    return common::Status::FailedPrecondition("not served by the other side (another version?): " + status.error_message());
  }
  // CANCELLED, UNKNOWN: nothing of ours says more than "try again later".
  return common::Status::Unavailable("rpc " + std::to_string(static_cast<int>(status.error_code())) + ": " +
                             status.error_message());
}

}  // namespace gradients::proto
