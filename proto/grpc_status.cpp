#include "proto/grpc_status.h"

#include <array>
#include <utility>

namespace gradients {
namespace {

constexpr std::array<std::pair<StatusCode, grpc::StatusCode>, 15> kCodes = {{
    {StatusCode::kOk, grpc::StatusCode::OK},
    {StatusCode::kInvalidArgument, grpc::StatusCode::INVALID_ARGUMENT},
    {StatusCode::kNotFound, grpc::StatusCode::NOT_FOUND},
    {StatusCode::kAlreadyExists, grpc::StatusCode::ALREADY_EXISTS},
    {StatusCode::kPermissionDenied, grpc::StatusCode::PERMISSION_DENIED},
    {StatusCode::kUnauthenticated, grpc::StatusCode::UNAUTHENTICATED},
    {StatusCode::kFailedPrecondition, grpc::StatusCode::FAILED_PRECONDITION},
    {StatusCode::kOutOfRange, grpc::StatusCode::OUT_OF_RANGE},
    {StatusCode::kResourceExhausted, grpc::StatusCode::RESOURCE_EXHAUSTED},
    {StatusCode::kDeadlineExceeded, grpc::StatusCode::DEADLINE_EXCEEDED},
    {StatusCode::kAborted, grpc::StatusCode::ABORTED},
    {StatusCode::kDataLoss, grpc::StatusCode::DATA_LOSS},
    {StatusCode::kUnavailable, grpc::StatusCode::UNAVAILABLE},
    {StatusCode::kInternal, grpc::StatusCode::INTERNAL},
    // The server's own failure, not the caller's; INTERNAL reads back as kInternal (the entry above).
    {StatusCode::kIoError, grpc::StatusCode::INTERNAL},
}};

}  // namespace

grpc::Status ToGrpcStatus(const Status& status) {
  for (const auto& [ours, theirs] : kCodes) {
    if (ours == status.code()) return {theirs, status.message()};
  }
  return {grpc::StatusCode::UNKNOWN, status.message()};
}

Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return Status::Ok();
  for (const auto& [ours, theirs] : kCodes) {
    if (theirs == status.error_code()) return Status(ours, status.error_message());
  }
  // A call the other side does not serve will not succeed on retry: versions differ.
  if (status.error_code() == grpc::StatusCode::UNIMPLEMENTED) {
    return Status::FailedPrecondition("not served by the other side (another version?): " + status.error_message());
  }
  // CANCELLED, UNKNOWN: nothing of ours says more than "try again later".
  return Status::Unavailable("rpc " + std::to_string(static_cast<int>(status.error_code())) + ": " +
                             status.error_message());
}

}  // namespace gradients
