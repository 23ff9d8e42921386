// Miners that fail in a market of three: one SIGKILLed in training and started again, one frozen
// (SIGSTOP) past the deadline and thawed. The others' work is scored either way.
#include <gtest/gtest.h>

#include <regex>

#include "tests/faults/market.h"

namespace gradients::testing {
namespace {

using namespace std::chrono_literals;

constexpr int kTaskSeconds = 20;

// Two miners that train briefly and upload at once.
std::vector<std::unique_ptr<miner::MinerProcess>> SteadyMiners(
    const std::function<std::unique_ptr<miner::MinerProcess>(const std::string&, const nlohmann::json&)>& make) {
  std::vector<std::unique_ptr<miner::MinerProcess>> miners;
  miners.push_back(make("steady-0", TokenBudgetStrategy(1e-2, 1500)));
  miners.push_back(make("steady-1", TokenBudgetStrategy(3e-2, 1500)));
  return miners;
}

TEST_F(MarketTest, AMinerKilledInTrainingAndStartedAgainResumesItsRunAndIsScoredWithTheOtherTwo) {
  const auto make = [&](const std::string& name, const nlohmann::json& strategy) {
    return MakeMiner(name, validator_->gateway(), strategy);
  };
  std::vector<std::unique_ptr<miner::MinerProcess>> miners = SteadyMiners(make);
  // Seconds of training, checkpointed every two steps.
  constexpr int64_t kBudget = 12'000;
  miners.push_back(make("killed", TokenBudgetStrategy(3e-3, kBudget)));
  miner::MinerProcess& killed = *miners.back();
  for (auto& miner : miners) miner->Start();
  WaitForConnectedMiners(*validator_, 3);
  const std::string task_id = miner::CreateTestTask(validator_->admin(), kTaskSeconds, 3);

  ASSERT_TRUE(killed.WaitForJob(
      task_id,
      [](const miner::JobStatus& job) { return job.phase == miner::JobPhase::kTraining && job.step >= 6; }, 60s))
      << Logs(*validator_, miners);
  killed.Kill();
  const miner::JobStatus at_kill = *killed.Job(task_id);
  ASSERT_EQ(at_kill.phase, miner::JobPhase::kTraining) << "killed in training";
  killed.Start();

  const v1::GetTaskResponse task = WaitForScores(*validator_, task_id);
  ASSERT_EQ(task.task().status(), v1::TASK_STATUS_SCORED) << task.task().failure_reason() << Logs(*validator_, miners);
  std::map<std::string, v1::Submission> scores = ByMiner(task);
  ASSERT_EQ(scores.size(), 3u);
  for (const auto& miner : miners) {
    const v1::Submission& submission = scores[miner->public_key()];
    EXPECT_EQ(submission.status(), v1::SUBMISSION_STATUS_SCORED) << submission.status_reason();
    const std::optional<miner::JobStatus> job = miner->Job(task_id);
    ASSERT_TRUE(job.has_value());
    EXPECT_EQ(job->phase, miner::JobPhase::kSubmitted) << job->detail;
    EXPECT_EQ(job->receipt_id, submission.receipt_id());
  }

  // It went on from its checkpoint rather than from the first step: its one run's record says that
  // part of its tokens were trained before this start, and the log names a step no further back
  // than the checkpoint interval (two steps, and a report in flight) before what it had reported at
  // the kill.
  const common::Result<std::string> search = common::ReadFileToString(killed.JobDir(task_id) / "search" / "search.json", 1 << 20);
  ASSERT_TRUE(search.ok()) << search.status().message();
  const nlohmann::json trials = nlohmann::json::parse(*search)["trials"];
  ASSERT_EQ(trials.size(), 1u) << *search;
  const int64_t tokens = trials[0]["tokens"], timed_tokens = trials[0]["timed_tokens"];
  EXPECT_GT(tokens - timed_tokens, 0) << *search;
  std::smatch resumed;
  const std::string log = killed.Log();
  ASSERT_TRUE(std::regex_search(log, resumed, std::regex("resumed from step ([0-9]+)"))) << log;
  EXPECT_GE(std::stoll(resumed[1]), 2);
  EXPECT_GE(std::stoll(resumed[1]) + 4, at_kill.step);
  for (auto& miner : miners) EXPECT_EQ(miner->Stop(), 0);
  EXPECT_EQ(validator_->Stop(), 0);
}

TEST_F(MarketTest, AMinerFrozenPastTheDeadlineHasItsLateUploadRefusedWhileTheOtherTwoAreScoredAndWeighted) {
  const auto make = [&](const std::string& name, const nlohmann::json& strategy) {
    return MakeMiner(name, validator_->gateway(), strategy);
  };
  std::vector<std::unique_ptr<miner::MinerProcess>> miners = SteadyMiners(make);
  // A budget that would keep it training until its upload reserve. It reports its progress once
  // only (at its first step): thawed, it does not hear from a progress report that the task is
  // closed, but tries to upload, and the upload is what the validator refuses.
  miners.push_back(MakeMiner("frozen", validator_->gateway(), TokenBudgetStrategy(3e-3, 100'000'000),
                             {{"jobs",
                               {{"upload_reserve_seconds", 4},
                                {"checkpoint_every_steps", 2},
                                {"progress_interval_seconds", 600},
                                {"cpu_threads", 1}}}}));
  miner::MinerProcess& frozen = *miners.back();
  for (auto& miner : miners) miner->Start();
  WaitForConnectedMiners(*validator_, 3);
  const std::string task_id = miner::CreateTestTask(validator_->admin(), kTaskSeconds, 3);

  ASSERT_TRUE(frozen.WaitForJob(
      task_id,
      [](const miner::JobStatus& job) { return job.phase == miner::JobPhase::kTraining && job.step >= 1; }, 60s))
      << Logs(*validator_, miners);
  std::this_thread::sleep_for(500ms);  // well into its training
  frozen.Signal(SIGSTOP);
  const v1::GetTaskResponse past_deadline = WaitForTask(*validator_, task_id, [](const v1::GetTaskResponse& task) {
    return task.task().status() == v1::TASK_STATUS_EVALUATING || task.task().status() == v1::TASK_STATUS_SCORED ||
           task.task().status() == v1::TASK_STATUS_FAILED;
  });
  frozen.Signal(SIGCONT);
  ASSERT_NE(past_deadline.task().status(), v1::TASK_STATUS_FAILED) << past_deadline.task().failure_reason();

  // Thawed after the deadline, it stops training, exports and uploads, and is told no: its job
  // ends failed with the validator's reason.
  ASSERT_TRUE(frozen.WaitForJob(
      task_id, [](const miner::JobStatus& job) { return job.finished(); }, 60s))
      << frozen.Log();
  const miner::JobStatus job = *frozen.Job(task_id);
  EXPECT_EQ(job.phase, miner::JobPhase::kFailed);
  EXPECT_NE(job.detail.find("UploadCheckpoint"), std::string::npos) << job.detail;
  EXPECT_TRUE(job.detail.find("it takes no uploads") != std::string::npos ||
              job.detail.find("its deadline has passed") != std::string::npos)
      << job.detail;

  const v1::GetTaskResponse task = WaitForScores(*validator_, task_id);
  ASSERT_EQ(task.task().status(), v1::TASK_STATUS_SCORED) << task.task().failure_reason() << Logs(*validator_, miners);
  std::map<std::string, v1::Submission> scores = ByMiner(task);
  ASSERT_EQ(scores.size(), 3u);
  const v1::Submission& missing = scores[frozen.public_key()];
  EXPECT_EQ(missing.status(), v1::SUBMISSION_STATUS_MISSING);
  EXPECT_EQ(missing.points(), -1);
  EXPECT_TRUE(missing.receipt_id().empty());
  EXPECT_FALSE(HasSubmissionRow(*validator_, task_id, frozen.public_key()));
  std::string winner;
  for (size_t i = 0; i < 2; ++i) {
    const v1::Submission& submission = scores[miners[i]->public_key()];
    EXPECT_EQ(submission.status(), v1::SUBMISSION_STATUS_SCORED) << submission.status_reason();
    if (submission.rank() == 1) winner = miners[i]->public_key();
    const std::optional<miner::JobStatus> steady = miners[i]->Job(task_id);
    EXPECT_TRUE(steady && steady->phase == miner::JobPhase::kSubmitted);
  }
  ASSERT_FALSE(winner.empty());

  // The weights count the task: the winner has all of it, the frozen miner nothing.
  const std::map<std::string, double> weights = PublishedWeights(*validator_);
  ASSERT_FALSE(weights.empty()) << validator_->Log();
  ASSERT_TRUE(weights.contains(winner));
  EXPECT_EQ(weights.at(winner), 1.0);
  EXPECT_FALSE(weights.contains(frozen.public_key()));
  for (auto& miner : miners) EXPECT_EQ(miner->Stop(), 0);  // the thawed daemon went on
  EXPECT_EQ(validator_->Stop(), 0);
}

}  // namespace
}  // namespace gradients::testing
