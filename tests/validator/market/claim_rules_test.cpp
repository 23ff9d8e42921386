#include "validator/market/claim_rules.h"

#include <string>

#include <gtest/gtest.h>

namespace gradients::validator {
namespace {

constexpr int64_t kNow = 10'000;

// A task every rule lets a claim through: offering, its window and deadline ahead, room for three.
TaskRecord OpenTask() {
  TaskRecord task;
  task.id = "t1";
  task.status = TaskStatus::kOffering;
  task.pool_size = 3;
  task.deadline_ms = kNow + 60'000;
  task.offer_closes_at_ms = kNow + 5'000;
  return task;
}

TEST(ClaimRules, AClaimOnAnOfferingTaskWithRoomIsAllowed) {
  const ClaimDecision decision = DecideClaim(OpenTask(), 0, kNow);
  EXPECT_TRUE(decision.allowed());
  EXPECT_EQ(decision.refusal, ClaimRefusal::kNone);
  EXPECT_TRUE(decision.status().ok());
  EXPECT_FALSE(decision.fills_pool);
}

TEST(ClaimRules, ATaskThatIsNotOfferingRefusesClaimsNamingItsStatus) {
  for (TaskStatus status : {TaskStatus::kPending, TaskStatus::kPreparing, TaskStatus::kTraining,
                            TaskStatus::kEvaluating, TaskStatus::kScored, TaskStatus::kFailed}) {
    TaskRecord task = OpenTask();
    task.status = status;
    const ClaimDecision decision = DecideClaim(task, 0, kNow);
    EXPECT_EQ(decision.refusal, ClaimRefusal::kOffersClosed) << TaskStatusName(status);
    EXPECT_EQ(decision.status().code(), common::StatusCode::kFailedPrecondition);
    EXPECT_EQ(decision.status().message(),
              "task t1 is " + std::string(TaskStatusName(status)) + ": its offers are closed");
  }
}

TEST(ClaimRules, AClaimAtOrAfterTheDeadlineIsRefused) {
  TaskRecord task = OpenTask();
  task.deadline_ms = kNow;
  task.offer_closes_at_ms = kNow + 5'000;  // a window that outlives the deadline: the deadline still rules
  const ClaimDecision decision = DecideClaim(task, 0, kNow);
  EXPECT_EQ(decision.refusal, ClaimRefusal::kDeadlinePassed);
  EXPECT_EQ(decision.status().code(), common::StatusCode::kFailedPrecondition);
  EXPECT_EQ(decision.status().message(), "task t1: its deadline has passed");
  EXPECT_TRUE(DecideClaim(task, 0, kNow - 1).allowed());
}

TEST(ClaimRules, AClaimAtOrAfterTheEndOfTheOfferWindowIsRefused) {
  TaskRecord task = OpenTask();
  task.offer_closes_at_ms = kNow;
  const ClaimDecision decision = DecideClaim(task, 0, kNow);
  EXPECT_EQ(decision.refusal, ClaimRefusal::kOfferWindowClosed);
  EXPECT_EQ(decision.status().code(), common::StatusCode::kFailedPrecondition);
  EXPECT_EQ(decision.status().message(), "task t1: its offer window has closed");
  EXPECT_TRUE(DecideClaim(task, 0, kNow - 1).allowed());
}

TEST(ClaimRules, AClaimOnAFullPoolIsRefused) {
  for (int64_t claims : {3, 4}) {
    const ClaimDecision decision = DecideClaim(OpenTask(), claims, kNow);
    EXPECT_EQ(decision.refusal, ClaimRefusal::kPoolFull) << claims;
    EXPECT_EQ(decision.status().code(), common::StatusCode::kFailedPrecondition);
    EXPECT_EQ(decision.status().message(), "task t1: its pool is full");
    EXPECT_FALSE(decision.fills_pool);
  }
}

TEST(ClaimRules, TheClaimThatTakesThePoolsLastPlaceFillsIt) {
  EXPECT_FALSE(DecideClaim(OpenTask(), 1, kNow).fills_pool);
  const ClaimDecision last = DecideClaim(OpenTask(), 2, kNow);
  EXPECT_TRUE(last.allowed());
  EXPECT_TRUE(last.fills_pool);
  TaskRecord single = OpenTask();
  single.pool_size = 1;
  EXPECT_TRUE(DecideClaim(single, 0, kNow).fills_pool);
}

TEST(ClaimRules, AClaimBreakingSeveralRulesIsToldTheFirst) {
  TaskRecord task = OpenTask();
  task.status = TaskStatus::kTraining;
  task.deadline_ms = kNow;
  task.offer_closes_at_ms = kNow;
  EXPECT_EQ(DecideClaim(task, 3, kNow).refusal, ClaimRefusal::kOffersClosed);
  task.status = TaskStatus::kOffering;
  EXPECT_EQ(DecideClaim(task, 3, kNow).refusal, ClaimRefusal::kDeadlinePassed);
  task.deadline_ms = kNow + 60'000;
  EXPECT_EQ(DecideClaim(task, 3, kNow).refusal, ClaimRefusal::kOfferWindowClosed);
  task.offer_closes_at_ms = kNow + 5'000;
  EXPECT_EQ(DecideClaim(task, 3, kNow).refusal, ClaimRefusal::kPoolFull);
}

TEST(ClaimRules, ARefusalNamesAtMostEightyBytesOfTheTaskId) {
  TaskRecord task = OpenTask();
  task.id = std::string(200, 'x');
  task.offer_closes_at_ms = kNow;
  EXPECT_EQ(DecideClaim(task, 0, kNow).status().message(),
            "task " + std::string(80, 'x') + ": its offer window has closed");
}

}  // namespace
}  // namespace gradients::validator
