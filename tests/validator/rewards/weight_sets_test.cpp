#include "validator/rewards/weight_sets.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "tests/support/temp_dir.h"
#include "validator/rewards/leaderboard.h"
#include "validator/rewards/weight_publication.h"
#include "validator/state/sqlite_store.h"

namespace gradients::validator {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kNow = 100 * kDayMs;

class WeightSets : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_->AddModel({.hash = "m", .name = "half-billion", .files = {}, .parameters = 500'000'000,
                                  .added_at_ms = 1})
                    .ok());
    ASSERT_TRUE(store_->AddDataset({.hash = "d", .name = "qa", .format = "jsonl", .bytes = 1, .split_seed = "s",
                                    .added_at_ms = 1})
                    .ok());
  }
  // A task of `minutes` scored at `scored_at_ms`; `points` by miner (the best first).
  void ScoredTask(const std::string& id, int64_t minutes, int64_t scored_at_ms,
                  const std::vector<std::pair<std::string, double>>& points) {
    ASSERT_TRUE(store_->CreateTask({.id = id, .type = "instruct", .model_hash = "m", .dataset_hash = "d",
                                    .columns = {}, .duration_s = minutes * 60, .pool_size = 8, .created_at_ms = 1,
                                    .updated_at_ms = 1})
                    .ok());
    ASSERT_TRUE(store_->TransitionTask(id, TaskStatus::kPending, TaskStatus::kPreparing, "", 2).ok());
    ASSERT_TRUE(store_->OpenOffers(id, scored_at_ms - 10, scored_at_ms - 20, "", 3).ok());
    for (const auto& [miner, unused] : points) ASSERT_TRUE(store_->ClaimTask(id, miner, "n", 4).ok());
    ASSERT_TRUE(store_->TransitionTask(id, TaskStatus::kOffering, TaskStatus::kTraining, "", 5).ok());
    ASSERT_TRUE(store_->TransitionTask(id, TaskStatus::kTraining, TaskStatus::kEvaluating, "", 6).ok());
    std::vector<EvaluationRecord> scores;
    int64_t rank = 0;
    for (const auto& [miner, value] : points) {
      EvaluationRecord evaluation{.task_id = id, .miner = miner, .outcome = value >= 0 ? EvaluationOutcome::kScored : EvaluationOutcome::kMissing};
      ASSERT_TRUE(store_->RecordEvaluation(evaluation).ok());
      evaluation.rank = value >= 0 ? ++rank : 0;
      evaluation.points = value;
      scores.push_back(evaluation);
    }
    ASSERT_TRUE(store_->RecordScores(id, scores, scored_at_ms).ok());
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteStore> store_ = std::move(*SqliteStore::Open(dir_ / "state.db"));
  ScoringOptions scoring_;
};

TEST_F(WeightSets, InputsAreTheScoredTasksOfTheLongestWindowWithTheirWork) {
  ScoredTask("old", 60, kNow - 8 * kDayMs, {{"a", 3}});  // outside 7 days
  ScoredTask("recent", 120, kNow - kDayMs / 2, {{"a", 3}, {"b", 0}, {"c", -1}});
  common::Result<WeightInputs> inputs = GatherWeightInputs(*store_, *store_, *store_, scoring_, kNow);
  ASSERT_TRUE(inputs.ok()) << inputs.status().message();
  ASSERT_EQ(inputs->tasks.size(), 1u);
  EXPECT_EQ(inputs->tasks[0].task_id, "recent");
  EXPECT_DOUBLE_EQ(inputs->tasks[0].work, 0.5 * 2.0);  // 0.5 billion parameters for two hours
  ASSERT_EQ(inputs->tasks[0].points.size(), 3u);
  EXPECT_EQ(inputs->tasks[0].points[0], (MinerPoints{.miner = "a", .points = 3, .rank = 1}));

  const WeightSetRecord set = MakeWeightSet(*inputs);
  EXPECT_EQ(set.weights.size(), 1u);  // only a positive score earns weight
  EXPECT_DOUBLE_EQ(set.weights.at("a"), 1.0);
  EXPECT_EQ(set.window_start_ms, kNow - 7 * kDayMs);
}

TEST_F(WeightSets, TheCanonicalInputsDecodeToThemselvesAndAnAuditLineRecomputesExactly) {
  ScoredTask("t1", 60, kNow - kDayMs / 3, {{"a", 3}, {"b", 0}});
  ScoredTask("t2", 30, kNow - 2 * kDayMs, {{"b", 3}, {"a", 0}, {"c", -1}});
  const WeightInputs inputs = *GatherWeightInputs(*store_, *store_, *store_, scoring_, kNow);
  const std::string encoded = EncodeWeightInputs(inputs);
  common::Result<WeightInputs> decoded = DecodeWeightInputs(encoded);
  ASSERT_TRUE(decoded.ok()) << decoded.status().message();
  EXPECT_EQ(EncodeWeightInputs(*decoded), encoded);

  const WeightSetRecord set = *store_->AddWeightSet(MakeWeightSet(inputs));
  EXPECT_EQ(set.id, 1);
  ASSERT_EQ(set.weights.size(), 2u);
  EXPECT_NEAR(set.weights.at("a") + set.weights.at("b"), 1.0, 1e-12);
  const std::string line = AuditLine(*store_->LatestWeightSet());
  EXPECT_TRUE(VerifyAuditLine(line).ok()) << VerifyAuditLine(line).message();

  nlohmann::json forged = nlohmann::json::parse(line);
  forged["weights"]["a"] = forged["weights"]["a"].get<double>() + 1e-9;
  EXPECT_EQ(VerifyAuditLine(forged.dump()).code(), common::StatusCode::kFailedPrecondition);
  forged = nlohmann::json::parse(line);
  forged["inputs"] = forged["inputs"].get<std::string>() + " ";
  EXPECT_EQ(VerifyAuditLine(forged.dump()).message(), "weight set 1: its inputs do not match their digest");
  forged = nlohmann::json::parse(line);
  forged["computed_at_ms"] = kNow + 1;  // relabelled
  EXPECT_EQ(VerifyAuditLine(forged.dump()).message(), "weight set 1: computed_at_ms is not the instant of its inputs");
  EXPECT_EQ(DecodeWeightInputs(R"({"version": 1, "now_ms": "soon"})").status().message(), "inputs.now_ms: wrong type");
}

TEST_F(WeightSets, PublishingWritesWeightsJsonFeedsTheSinkAndKeepsTheHistory) {
  ScoredTask("t1", 60, kNow - kDayMs / 3, {{"a", 3}, {"b", 0}});
  WeightPublicationOptions options{.interval_ms = 1000,
                                   .sink_command = {"/bin/sh", "-c", "cat > " + (dir_ / "sunk.json").string()},
                                   .sink_attempts = 2, .sink_backoff_ms = 10, .sink_timeout_ms = 10'000};
  common::Result<WeightSetRecord> published = PublishWeights(*store_, *store_, *store_, *store_, scoring_, options,
                                                             dir_ / "weights.json", "validator-1", [] { return kNow; });
  ASSERT_TRUE(published.ok()) << published.status().message();
  const std::string file = *common::ReadFileToString(dir_ / "weights.json", 1 << 20);
  EXPECT_EQ(*common::ReadFileToString(dir_ / "sunk.json", 1 << 20), file);
  const nlohmann::json json = nlohmann::json::parse(file);
  EXPECT_EQ(json["validator_id"], "validator-1");
  EXPECT_EQ(json["weights"][0]["miner"], "a");
  EXPECT_EQ(json["weights"][0]["weight"], 1.0);
  EXPECT_EQ(published->published_to, "file:" + (dir_ / "weights.json").string() + ",command:/bin/sh");
  EXPECT_EQ(store_->LatestWeightSet()->published_at_ms, kNow);

  // A sink that keeps failing is tried `sink_attempts` times; the set is kept and the file written.
  options.sink_command = {"/bin/sh", "-c", "echo tried >> " + (dir_ / "attempts").string() + "; exit 3"};
  published = PublishWeights(*store_, *store_, *store_, *store_, scoring_, options, dir_ / "weights.json",
                             "validator-1", [] { return kNow + 1; });
  ASSERT_TRUE(published.ok());
  EXPECT_EQ(published->id, 2);
  EXPECT_EQ(*common::ReadFileToString(dir_ / "attempts", 100), "tried\ntried\n");
  EXPECT_EQ(published->published_to, "file:" + (dir_ / "weights.json").string());
  EXPECT_EQ(store_->ListWeightSets(0, 0, 10)->size(), 2u);
  EXPECT_EQ(store_->ListWeightSets(0, 2, 10)->size(), 1u);  // before id 2
}

TEST(Leaderboard, MinersRankByWorkWeightedPointsThenPoints) {
  const std::vector<gradients::validator::ScoredTask> tasks = {
      {.task_id = "big", .type = "instruct", .scored_at_ms = 1, .work = 2.0,
       .points = {{.miner = "a", .points = 3, .rank = 1}, {.miner = "b", .points = 0, .rank = 2}}},
      {.task_id = "small", .type = "chat", .scored_at_ms = 2, .work = 0.5,
       .points = {{.miner = "b", .points = 3, .rank = 1}, {.miner = "c", .points = -1, .rank = 0}}}};
  const std::vector<LeaderboardEntry> all = RankMiners(tasks, "");
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0], (LeaderboardEntry{.miner = "a", .score = 6, .points = 3, .tasks_scored = 1, .first_places = 1}));
  EXPECT_EQ(all[1], (LeaderboardEntry{.miner = "b", .score = 1.5, .points = 3, .tasks_scored = 2, .first_places = 1}));
  EXPECT_EQ(all[2].miner, "c");
  const std::vector<LeaderboardEntry> chat = RankMiners(tasks, "chat");
  ASSERT_EQ(chat.size(), 2u);
  EXPECT_EQ(chat[0].miner, "b");
}

}  // namespace
}  // namespace gradients::validator
