#include "validator/tasks/task_status.h"

#include <gtest/gtest.h>

namespace gradients::validator {
namespace {

constexpr TaskStatus kAll[] = {TaskStatus::kPending,  TaskStatus::kPreparing,  TaskStatus::kOffering, TaskStatus::kTraining,
                               TaskStatus::kEvaluating, TaskStatus::kScored, TaskStatus::kFailed};

TEST(TaskStatus, EveryStatusParsesFromItsName) {
  for (TaskStatus status : kAll) {
    common::Result<TaskStatus> parsed = ParseTaskStatus(TaskStatusName(status));
    ASSERT_TRUE(parsed.ok()) << TaskStatusName(status);
    EXPECT_EQ(*parsed, status);
  }
  common::Result<TaskStatus> unknown = ParseTaskStatus("done");
  ASSERT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("\"done\""), std::string::npos);
}

TEST(TaskStatus, ATaskMovesOneStepForwardOrFails) {
  EXPECT_TRUE(IsAllowedTransition(TaskStatus::kPending, TaskStatus::kPreparing));
  EXPECT_TRUE(IsAllowedTransition(TaskStatus::kOffering, TaskStatus::kTraining));
  EXPECT_TRUE(IsAllowedTransition(TaskStatus::kEvaluating, TaskStatus::kScored));
  EXPECT_TRUE(IsAllowedTransition(TaskStatus::kTraining, TaskStatus::kFailed));
  EXPECT_FALSE(IsAllowedTransition(TaskStatus::kPending, TaskStatus::kOffering));  // skips preparing
  EXPECT_FALSE(IsAllowedTransition(TaskStatus::kTraining, TaskStatus::kOffering));  // backwards
  EXPECT_FALSE(IsAllowedTransition(TaskStatus::kPending, TaskStatus::kPending));
  for (TaskStatus to : kAll) {
    EXPECT_FALSE(IsAllowedTransition(TaskStatus::kScored, to)) << TaskStatusName(to);
    EXPECT_FALSE(IsAllowedTransition(TaskStatus::kFailed, to)) << TaskStatusName(to);
  }
}

}  // namespace
}  // namespace gradients::validator
