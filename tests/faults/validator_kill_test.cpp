// A validator SIGKILLed in the middle of a task: while the miners upload, and again while it
// evaluates. Nothing it acknowledged is lost, the uploads resume, and its scores are those of a
// run that nobody interrupted.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "tests/faults/market.h"

namespace gradients::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kTaskSeconds = 20;

// The miners whose upload to `task_id` the validator has begun to receive but not acknowledged.
std::set<std::string> UploadsInFlight(const miner::ValidatorProcess& validator, const std::string& task_id) {
  Database database(validator.database());
  std::set<std::string> miners;
  for (const auto& row : database.Query("SELECT miner FROM partial_uploads WHERE task_id = ?1 AND miner NOT IN "
                                        "(SELECT miner FROM submissions WHERE task_id = ?1)",
                                        {task_id})) {
    miners.insert(row[0]);
  }
  return miners;
}

// The digest of the submission's adapter weights, as its manifest lists it.
std::string WeightsDigest(const v1::Submission& submission) {
  for (const v1::CheckpointFile& file : submission.manifest().files()) {
    if (file.relative_path() == "adapter_model.safetensors") return HexOf(file.digest().value());
  }
  return "";
}

std::string TaskStatusIn(Database& database, const std::string& task_id) {
  const auto rows = database.Query("SELECT status FROM tasks WHERE id = ?1", {task_id});
  return rows.empty() ? "" : rows[0][0];
}

int64_t ScoredVerdictsIn(Database& database, const std::string& task_id) {
  return std::stoll(
      database.Query("SELECT count(*) FROM evaluations WHERE task_id = ?1 AND outcome = 'scored'", {task_id})[0][0]);
}

// "The scores of an uninterrupted run" are those of a real second run: a reference validator on a
// copy of this one's data directory taken before any task (the same dataset seed, hence the same
// hidden test split) with the same three miners (the same keys and options), run beside the first
// and never disturbed. The miners' token budgets make their checkpoints independent of timing,
// which the test checks too: both runs must receive the same weights. Running the two side by
// side costs one task's time rather than two.
TEST_F(MarketTest,
       AValidatorKilledDuringUploadsAndDuringEvaluationLosesNoAcknowledgedUploadAndScoresAsAnUninterruptedRun) {
  ASSERT_EQ(validator_->Stop(), 0);
  std::filesystem::create_directories(dir_.path() / "reference");
  std::filesystem::copy(dir_.path() / "data", dir_.path() / "reference" / "data",
                        std::filesystem::copy_options::recursive);
  ASSERT_TRUE(validator_->Start());
  std::unique_ptr<miner::ValidatorProcess> reference;
  ASSERT_TRUE(StartValidator(reference, dir_.path() / "reference"));

  // Different learning rates and budgets: three different losses. Uploads paced to a few seconds,
  // in small chunks, so that the kill finds them in flight.
  const std::vector<std::pair<double, int64_t>> settings = {{3e-3, 1500}, {1e-2, 1700}, {3e-2, 1900}};
  const nlohmann::json paced = {{"upload", {{"chunk_bytes", 4096}, {"max_bytes_per_second", 20'000}}}};
  std::vector<std::unique_ptr<miner::MinerProcess>> miners, reference_miners;
  for (size_t i = 0; i < settings.size(); ++i) {
    const nlohmann::json strategy = TokenBudgetStrategy(settings[i].first, settings[i].second);
    miners.push_back(MakeMiner("miner-" + std::to_string(i), validator_->gateway(), strategy, paced));
    reference_miners.push_back(
        MakeMiner("reference-miner-" + std::to_string(i), reference->gateway(), strategy, paced, miners.back().get()));
  }
  for (auto& miner : miners) miner->Start();
  for (auto& miner : reference_miners) miner->Start();
  WaitForConnectedMiners(*validator_, 3);
  WaitForConnectedMiners(*reference, 3);
  const std::string task_id = miner::CreateTestTask(validator_->admin(), kTaskSeconds, 3);
  const std::string reference_task_id = miner::CreateTestTask(reference->admin(), kTaskSeconds, 3);
  ASSERT_FALSE(task_id.empty());

  // The first kill: every miner done training, and the validator receiving an upload. (Its
  // durable offsets move every MiB, more than these adapters hold: the killed uploads start over.)
  const auto all_past_training = [&] {
    return std::all_of(miners.begin(), miners.end(), [&](const auto& miner) {
      const std::optional<miner::JobStatus> job = miner->Job(task_id);
      return job && (job->phase == miner::JobPhase::kUploading || job->phase == miner::JobPhase::kSubmitted);
    });
  };
  bool receiving = false;
  for (const auto give_up = std::chrono::steady_clock::now() + 60s;
       !receiving && std::chrono::steady_clock::now() < give_up; std::this_thread::sleep_for(10ms)) {
    receiving = all_past_training() && !UploadsInFlight(*validator_, task_id).empty();
  }
  ASSERT_TRUE(receiving) << Logs(*validator_, miners);
  validator_->Kill();
  const std::set<std::string> cut_off = UploadsInFlight(*validator_, task_id);
  ASSERT_FALSE(cut_off.empty());
  std::map<std::string, std::string> acknowledged;  // miner -> the receipt it held at the kill
  for (const auto& miner : miners) {
    const std::optional<miner::JobStatus> job = miner->Job(task_id);
    if (job && job->phase == miner::JobPhase::kSubmitted) acknowledged[miner->public_key()] = job->receipt_id;
  }
  {
    Database database(validator_->database());  // as the killed validator left it
    for (const auto& [miner, receipt] : acknowledged) {
      const auto rows =
          database.Query("SELECT receipt_id FROM submissions WHERE task_id = ?1 AND miner = ?2", {task_id, miner});
      EXPECT_TRUE(rows.size() == 1 && rows[0][0] == receipt) << miner;
    }
  }
  ASSERT_TRUE(validator_->Start());

  // The second kill: evaluating, with a verdict stored and more to come.
  bool struck = false;
  for (const auto give_up = std::chrono::steady_clock::now() + 90s;
       !struck && std::chrono::steady_clock::now() < give_up; std::this_thread::sleep_for(10ms)) {
    Database database(validator_->database());
    const std::string status = TaskStatusIn(database, task_id);
    if (status == "scored" || status == "failed") break;
    if (status == "evaluating" && ScoredVerdictsIn(database, task_id) >= 1) {
      validator_->Kill();
      struck = true;
    }
  }
  ASSERT_TRUE(struck) << "the task was never caught evaluating\n" << Logs(*validator_, miners);
  {
    Database database(validator_->database());
    ASSERT_EQ(TaskStatusIn(database, task_id), "evaluating") << "the kill came after the scoring";
    EXPECT_LT(ScoredVerdictsIn(database, task_id), 3);
  }
  ASSERT_TRUE(validator_->Start());

  const v1::GetTaskResponse task = WaitForScores(*validator_, task_id);
  const v1::GetTaskResponse uninterrupted = WaitForScores(*reference, reference_task_id);
  ASSERT_EQ(task.task().status(), v1::TASK_STATUS_SCORED) << task.task().failure_reason() << Logs(*validator_, miners);
  ASSERT_EQ(uninterrupted.task().status(), v1::TASK_STATUS_SCORED)
      << uninterrupted.task().failure_reason() << Logs(*reference, reference_miners);
  std::map<std::string, v1::Submission> scores = ByMiner(task), reference_scores = ByMiner(uninterrupted);
  ASSERT_EQ(scores.size(), 3u);
  ASSERT_EQ(reference_scores.size(), 3u);
  std::set<double> losses;
  for (size_t i = 0; i < miners.size(); ++i) {
    const std::string& key = miners[i]->public_key();
    ASSERT_TRUE(scores.contains(key) && reference_scores.contains(key)) << key;
    const v1::Submission& submission = scores[key];
    const v1::Submission& reference_submission = reference_scores[key];
    // What the miner holds a receipt for is what the validator recorded.
    const std::optional<miner::JobStatus> job = miners[i]->Job(task_id);
    ASSERT_TRUE(job.has_value());
    EXPECT_EQ(job->phase, miner::JobPhase::kSubmitted) << job->detail;
    EXPECT_EQ(job->receipt_id, submission.receipt_id());
    if (acknowledged.contains(key)) {
      EXPECT_EQ(acknowledged[key], submission.receipt_id());
    }
    // The same weights in both runs (adapter_config.json differs: it names the base model by the
    // miner's local path, which holds the task id), judged the same, bit for bit.
    EXPECT_EQ(WeightsDigest(submission), WeightsDigest(reference_submission)) << i;
    EXPECT_FALSE(WeightsDigest(submission).empty());
    EXPECT_EQ(submission.status(), v1::SUBMISSION_STATUS_SCORED) << submission.status_reason();
    EXPECT_EQ(reference_submission.status(), v1::SUBMISSION_STATUS_SCORED) << reference_submission.status_reason();
    EXPECT_EQ(submission.test_loss(), reference_submission.test_loss()) << i;
    EXPECT_EQ(submission.rank(), reference_submission.rank()) << i;
    EXPECT_EQ(submission.points(), reference_submission.points()) << i;
    losses.insert(submission.test_loss());
  }
  EXPECT_EQ(losses.size(), 3u) << "three different checkpoints, three different losses";
  // Every upload the kill cut off was made again, and nothing is left half-way.
  for (const std::string& miner : cut_off) {
    EXPECT_EQ(scores[miner].status(), v1::SUBMISSION_STATUS_SCORED) << miner;
  }
  Database database(validator_->database());
  EXPECT_TRUE(database.Query("SELECT miner FROM partial_uploads WHERE task_id = ?1", {task_id}).empty());

  for (auto& miner : miners) EXPECT_EQ(miner->Stop(), 0);
  for (auto& miner : reference_miners) EXPECT_EQ(miner->Stop(), 0);
  EXPECT_EQ(validator_->Stop(), 0);
  EXPECT_EQ(reference->Stop(), 0);
}

}  // namespace
}  // namespace gradients::testing
