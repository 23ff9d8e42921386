#include "proto/grpc_status.h"

#include <gtest/gtest.h>

namespace gradients {
namespace {

TEST(GrpcStatus, EveryCodeOfOursCrossesTheWireAndComesBack) {
  for (StatusCode code : {StatusCode::kInvalidArgument, StatusCode::kNotFound, StatusCode::kAlreadyExists,
                          StatusCode::kPermissionDenied, StatusCode::kUnauthenticated, StatusCode::kFailedPrecondition,
                          StatusCode::kOutOfRange, StatusCode::kResourceExhausted, StatusCode::kDeadlineExceeded,
                          StatusCode::kAborted, StatusCode::kDataLoss, StatusCode::kUnavailable, StatusCode::kInternal}) {
    const Status status(code, "what went wrong");
    const grpc::Status wire = ToGrpcStatus(status);
    EXPECT_EQ(wire.error_message(), "what went wrong");
    EXPECT_EQ(FromGrpcStatus(wire), status) << StatusCodeName(code);
  }
  EXPECT_TRUE(ToGrpcStatus(Status::Ok()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(GrpcStatus, TheServersOwnIoFailureIsInternalToTheCaller) {
  EXPECT_EQ(ToGrpcStatus(Status::IoError("disk full")).error_code(), grpc::StatusCode::INTERNAL);
}

TEST(GrpcStatus, AnUnservedCallIsNotRetriedButOtherUnmappedCodesAre) {
  const Status unserved = FromGrpcStatus(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not served"));
  EXPECT_EQ(unserved.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(unserved.message().find("not served"), std::string::npos);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled")).code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace gradients
