#include "validator/rewards/scoring.h"

#include <cmath>
#include <cstring>
#include <limits>

#include <gtest/gtest.h>

namespace gradients::validator {
namespace {

constexpr int64_t kDay = 86'400'000;
constexpr int64_t kNow = 100 * kDay;

SubmissionResult Scored(std::string miner, double loss, int64_t received_at_ms = 0) {
  return {.miner = std::move(miner), .outcome = EvaluationOutcome::kScored, .test_loss = loss,
          .received_at_ms = received_at_ms};
}

SubmissionResult Outcome(std::string miner, EvaluationOutcome outcome) {
  return {.miner = std::move(miner), .outcome = outcome, .test_loss = 0, .received_at_ms = 0};
}

// A task `miner` won against `others`, scored `days_ago` days before kNow.
ScoredTask Won(const std::string& miner, std::vector<std::string> others, double days_ago, double work = 1,
               std::string type = "instruct") {
  std::vector<SubmissionResult> submissions = {Scored(miner, 1.0)};
  for (const std::string& other : others) submissions.push_back(Scored(other, 2.0));
  return {.task_id = "task-" + miner, .type = std::move(type),
          .scored_at_ms = kNow - static_cast<int64_t>(days_ago * static_cast<double>(kDay)), .work = work,
          .points = ScoreTask(submissions, {})};
}

double Sum(const std::map<std::string, double>& weights) {
  double sum = 0;
  for (const auto& [miner, weight] : weights) sum += weight;
  return sum;
}

TEST(ScoreTask, TheLowestLossWinsAndEveryFailureCostsAPoint) {
  const std::vector<MinerPoints> points = ScoreTask(
      {Scored("b", 2.5), Outcome("c", EvaluationOutcome::kDuplicate), Scored("a", 2.1),
       Outcome("d", EvaluationOutcome::kMissing), Scored("e", std::numeric_limits<double>::quiet_NaN()),
       Outcome("f", EvaluationOutcome::kNotFinetuned), Scored("g", 3.0)},
      {});
  const std::vector<MinerPoints> expected = {
      {.miner = "a", .points = 3, .rank = 1},  {.miner = "b", .points = 0, .rank = 2},
      {.miner = "g", .points = 0, .rank = 3},  {.miner = "c", .points = -1, .rank = 0},
      {.miner = "d", .points = -1, .rank = 0}, {.miner = "e", .points = -1, .rank = 0},  // NaN loss: invalid
      {.miner = "f", .points = -1, .rank = 0},
  };
  EXPECT_EQ(points, expected);
}

TEST(ScoreTask, OfEqualLossesTheEarlierUploadRanksFirst) {
  const std::vector<MinerPoints> points = ScoreTask({Scored("late", 2.0, 500), Scored("early", 2.0, 100)}, {});
  EXPECT_EQ(points[0].miner, "early");
  EXPECT_EQ(points[0].points, 3);
}

TEST(ScoreTask, TheConstantsComeFromTheOptions) {
  const ScoringOptions options{.first_place_points = 5, .other_points = 1, .penalty_points = -2};
  const std::vector<MinerPoints> points =
      ScoreTask({Scored("a", 1.0), Scored("b", 2.0), Outcome("c", EvaluationOutcome::kFailed)}, options);
  EXPECT_EQ(points[0].points, 5);
  EXPECT_EQ(points[1].points, 1);
  EXPECT_EQ(points[2].points, -2);
}

TEST(ComputeWeights, WeightsSumToOneAndTheWinnerLeads) {
  const std::map<std::string, double> weights =
      ComputeWeights({Won("a", {"b", "c"}, 0.5), Won("a", {"b"}, 2), Won("b", {"c"}, 5)}, kNow, {});
  ASSERT_EQ(weights.size(), 3u);
  EXPECT_NEAR(Sum(weights), 1.0, 1e-12);
  EXPECT_GT(weights.at("a"), weights.at("b"));
  EXPECT_GT(weights.at("b"), weights.at("c"));
  EXPECT_EQ(weights.at("c"), 0.0);  // never won: its score is 0
}

TEST(ComputeWeights, ClaimingWithoutDeliveringEarnsNothing) {
  ScoredTask task = Won("a", {}, 0.5);
  task.points = ScoreTask({Scored("a", 1.0), Outcome("lazy", EvaluationOutcome::kMissing)}, {});
  const std::map<std::string, double> weights = ComputeWeights({task}, kNow, {});
  EXPECT_EQ(weights.at("a"), 1.0);
  EXPECT_EQ(weights.at("lazy"), 0.0);
  task.points = ScoreTask({Outcome("lazy", EvaluationOutcome::kMissing)}, {});
  EXPECT_TRUE(ComputeWeights({task}, kNow, {}).empty());  // nobody earned anything
}

TEST(ComputeWeights, RecentWinsWeighMoreThanOlderOnes) {
  // "recent" won half a day ago, "older" five days ago (in the 7-day window only), on equal work.
  const std::map<std::string, double> weights =
      ComputeWeights({Won("recent", {"x"}, 0.5), Won("older", {"y"}, 5)}, kNow, {});
  EXPECT_GT(weights.at("recent"), weights.at("older"));
}

TEST(ComputeWeights, BiggerTasksWeighMore) {
  const std::map<std::string, double> weights =
      ComputeWeights({Won("big", {"x"}, 0.5, /*work=*/10), Won("small", {"y"}, 0.5, /*work=*/1)}, kNow, {});
  EXPECT_GT(weights.at("big"), weights.at("small"));
}

TEST(ComputeWeights, TasksOutsideTheWindowsOrOfUnweightedTypesDoNotCount) {
  EXPECT_TRUE(ComputeWeights({Won("a", {"b"}, 8)}, kNow, {}).empty());
  EXPECT_TRUE(ComputeWeights({Won("a", {"b"}, -1)}, kNow, {}).empty());  // scored after `now`
  EXPECT_TRUE(ComputeWeights({Won("a", {"b"}, 0.5, 1, "dpo")}, kNow, {}).empty());  // dpo counts for nothing here
  const std::map<std::string, double> weights =
      ComputeWeights({Won("a", {"b"}, 0.5, 1, "dpo"), Won("b", {"a"}, 0.5)}, kNow, {});
  EXPECT_EQ(weights.at("b"), 1.0);
  EXPECT_EQ(weights.at("a"), 0.0);
}

TEST(ComputeWeights, TheSameInputsGiveTheSameBits) {
  const std::vector<ScoredTask> tasks = {Won("a", {"b", "c", "d"}, 0.3, 1.1), Won("c", {"a"}, 2.2, 7.7),
                                         Won("d", {"b"}, 6.1, 0.4)};
  const std::map<std::string, double> first = ComputeWeights(tasks, kNow, {});
  const std::map<std::string, double> second = ComputeWeights(tasks, kNow, {});
  ASSERT_EQ(first.size(), second.size());
  for (const auto& [miner, weight] : first) {
    EXPECT_EQ(std::memcmp(&weight, &second.at(miner), sizeof(double)), 0) << miner;
  }
}

}  // namespace
}  // namespace gradients::validator
