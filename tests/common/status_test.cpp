#include "common/status.h"

#include <gtest/gtest.h>

namespace gradients::common {
namespace {

Result<int> ParsePositive(int v) {
  if (v <= 0) return Status::InvalidArgument("not positive: " + std::to_string(v));
  return v;
}

Result<int> Doubled(int v) {
  GRADIENTS_ASSIGN_OR_RETURN(int positive, ParsePositive(v));
  return positive * 2;
}

Status CheckBoth(int a, int b) {
  GRADIENTS_RETURN_IF_ERROR(ParsePositive(a).status());
  GRADIENTS_RETURN_IF_ERROR(ParsePositive(b).status());
  return Status::Ok();
}

TEST(Status, DefaultIsOk) {
  Status status;
  EXPECT_TRUE(status.ok());
  EXPECT_EQ(status.ToString(), "OK");
}

TEST(Status, ToStringNamesTheCodeAndMessage) {
  EXPECT_EQ(Status::NotFound("model.safetensors").ToString(), "NOT_FOUND: model.safetensors");
  EXPECT_EQ(Status::PermissionDenied("x").code(), StatusCode::kPermissionDenied);
}

TEST(Status, WithContextPrefixesTheMessageAndKeepsTheCode) {
  Status status = Status::DataLoss("truncated").WithContext("blob 3f2a");
  EXPECT_EQ(status.code(), StatusCode::kDataLoss);
  EXPECT_EQ(status.message(), "blob 3f2a: truncated");
  EXPECT_TRUE(Status::Ok().WithContext("ignored").ok());
}

TEST(Result, HoldsAValueOrAnError) {
  Result<int> good = ParsePositive(3);
  ASSERT_TRUE(good.ok());
  EXPECT_EQ(*good, 3);
  EXPECT_TRUE(good.status().ok());

  Result<int> bad = ParsePositive(-1);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "not positive: -1");
}

TEST(Result, AssignOrReturnPropagatesTheFirstError) {
  EXPECT_EQ(*Doubled(4), 8);
  EXPECT_EQ(Doubled(0).status().code(), StatusCode::kInvalidArgument);
}

TEST(Result, ReturnIfErrorStopsAtTheFirstFailure) {
  EXPECT_TRUE(CheckBoth(1, 2).ok());
  EXPECT_EQ(CheckBoth(1, -7).message(), "not positive: -7");
}

TEST(Result, MovesOutMoveOnlyValues) {
  Result<std::unique_ptr<int>> result = std::make_unique<int>(5);
  std::unique_ptr<int> owned = std::move(result).value();
  EXPECT_EQ(*owned, 5);
}

}  // namespace
}  // namespace gradients::common
