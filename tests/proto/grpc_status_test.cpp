#include "proto/grpc_status.h"

#include <gtest/gtest.h>

namespace gradients::proto {
namespace {

TEST(GrpcStatus, EveryCodeOfOursCrossesTheWireAndComesBack) {
  for (common::StatusCode code : {common::StatusCode::kInvalidArgument, common::StatusCode::kNotFound, common::StatusCode::kAlreadyExists,
                          common::StatusCode::kPermissionDenied, common::StatusCode::kUnauthenticated, common::StatusCode::kFailedPrecondition,
                          common::StatusCode::kOutOfRange, common::StatusCode::kResourceExhausted, common::StatusCode::kDeadlineExceeded,
                          common::StatusCode::kAborted, common::StatusCode::kDataLoss, common::StatusCode::kUnavailable, common::StatusCode::kInternal}) {
    const common::Status status(code, "what went wrong");
    const grpc::Status wire = ToGrpcStatus(status);
    EXPECT_EQ(wire.error_message(), "what went wrong");
    EXPECT_EQ(FromGrpcStatus(wire), status) << common::StatusCodeName(code);
  }
  EXPECT_TRUE(ToGrpcStatus(common::Status::Ok()).ok());
  EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok());
}

TEST(GrpcStatus, TheServersOwnIoFailureIsInternalToTheCaller) {
  EXPECT_EQ(ToGrpcStatus(common::Status::IoError("disk full")).error_code(), grpc::StatusCode::INTERNAL);
}

TEST(GrpcStatus, ADivergedRunIsAFailedPreconditionToThePeer) {
  const grpc::Status wire = ToGrpcStatus(common::Status::Diverged("training diverged"));
  EXPECT_EQ(wire.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(FromGrpcStatus(wire).code(), common::StatusCode::kFailedPrecondition);
}

TEST(GrpcStatus, AnUnservedCallIsNotRetriedButOtherUnmappedCodesAre) {
  const common::Status unserved = FromGrpcStatus(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "not served"));
  EXPECT_EQ(unserved.code(), common::StatusCode::kFailedPrecondition);
  EXPECT_NE(unserved.message().find("not served"), std::string::npos);
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::CANCELLED, "cancelled")).code(), common::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace gradients::proto
