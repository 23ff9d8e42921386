// gradients-miner as operators run it: a real process with its config, against a real validator
// process on loopback, scored by the validator's own evaluation.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <thread>

#include "gradients/v1/admin.grpc.pb.h"
#include "miner/job_journal.h"
#include "tests/miner/validator_process.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "trainers/compute_device.h"

namespace gradients::miner {
namespace {

using namespace std::chrono_literals;

class MinerDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitTinyModel(dir_.path() / "tiny"));
    nlohmann::json config = TestModelAndDataset(dir_.path(), 60);
    config["models"] = {{{"path", (dir_.path() / "tiny").string()}, {"name", "llama"}}};
    config["evaluation"] = {{"gradients_path", GRADIENTS_CLI_PATH}, {"threads", 1}};
    validator_ = std::make_unique<ValidatorProcess>(dir_.path(), config);
    ASSERT_TRUE(validator_->Start());
    admin_ = v1::Admin::NewStub(grpc::CreateChannel(validator_->admin(), grpc::InsecureChannelCredentials()));
  }

  // The task once scored (or failed, or after two minutes).
  v1::GetTaskResponse WaitForScores(const std::string& task_id) {
    v1::GetTaskResponse task;
    for (int i = 0; i < 1200; ++i) {
      grpc::ClientContext context;
      context.set_deadline(std::chrono::system_clock::now() + 10s);
      v1::GetTaskRequest request;
      request.set_task_id(task_id);
      task.Clear();
      EXPECT_TRUE(admin_->GetTask(&context, request, &task).ok());
      if (task.task().status() == v1::TASK_STATUS_SCORED || task.task().status() == v1::TASK_STATUS_FAILED) break;
      std::this_thread::sleep_for(100ms);
    }
    return task;
  }

  testing::TempDir dir_;
  std::unique_ptr<ValidatorProcess> validator_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(MinerDaemonTest, EachStrategyCompletesTheTaskBeforeItsDeadlineAndItsSubmissionIsScored) {
  const std::vector<std::string> strategies = {"fixed", "random", "halving", "tpe"};
  std::vector<std::unique_ptr<MinerProcess>> miners;
  for (const std::string& name : strategies) {
    miners.push_back(
        std::make_unique<MinerProcess>(dir_.path() / ("miner-" + name), validator_->gateway(), TestStrategy(name)));
    miners.back()->Start();
  }
  const std::string task_id = CreateTestTask(validator_->admin(), 25, static_cast<int>(strategies.size()));
  v1::GetTaskResponse task = WaitForScores(task_id);
  std::string logs;
  for (const auto& miner : miners) logs += miner->Log();
  ASSERT_EQ(task.task().status(), v1::TASK_STATUS_SCORED) << task.task().failure_reason() << validator_->Log() << logs;
  ASSERT_EQ(task.submissions_size(), 4) << logs;
  for (const v1::Submission& submission : task.submissions()) {
    EXPECT_EQ(submission.status(), v1::SUBMISSION_STATUS_SCORED) << submission.status_reason();
    EXPECT_TRUE(std::isfinite(submission.test_loss()));
    // The validator refuses uploads after the deadline: scored means in time.
  }
  for (size_t i = 0; i < miners.size(); ++i) {
    std::optional<JobStatus> job = miners[i]->Job(task_id);
    ASSERT_TRUE(job.has_value()) << strategies[i];
    EXPECT_EQ(job->phase, JobPhase::kSubmitted) << strategies[i] << ": " << job->detail;
    EXPECT_EQ(job->strategy, strategies[i]);
    EXPECT_GE(job->trials_done, strategies[i] == "fixed" ? 1 : 2) << strategies[i] << "\n" << miners[i]->Log();
    // fixed trains its one configuration on the whole split: nothing held back, no validation loss.
    EXPECT_EQ(job->best_validation_loss.has_value(), strategies[i] != "fixed") << strategies[i];
    const nlohmann::json status = miners[i]->Status();
    ASSERT_TRUE(status.is_array() && status.size() == 1) << status.dump();
    EXPECT_EQ(status[0]["phase"], "submitted");
    EXPECT_EQ(status[0]["trials_done"], job->trials_done);
    EXPECT_EQ(status[0]["best_validation_loss"].is_number(), strategies[i] != "fixed") << status.dump();
    // What the job reached is kept for admitting the next offer of this model size.
    const common::Result<std::string> calibration = common::ReadFileToString(miners[i]->work_dir() / "calibration.json", 1 << 20);
    ASSERT_TRUE(calibration.ok());
    EXPECT_NE(calibration->find("\"cpu model "), std::string::npos) << *calibration;
    EXPECT_EQ(miners[i]->Stop(), 0);
  }
  EXPECT_EQ(validator_->Stop(), 0);
}

TEST_F(MinerDaemonTest, AMinerKilledOrStoppedInTrainingAndKilledInTheUploadResumesAndStillSubmitsBeforeTheDeadline) {
  // Training that would go on past the deadline (the deadline stops it), and an upload paced so
  // slowly that it can be cut off.
  nlohmann::json strategy = TestStrategy("fixed");
  strategy["hyperparameters"]["epochs"] = 1000;
  strategy["hyperparameters"]["validation_fraction"] = 0;
  MinerProcess miner(dir_.path() / "miner", validator_->gateway(), strategy,
                     {{"upload", {{"chunk_bytes", 4096}, {"max_bytes_per_second", 40'000}}},
                      {"jobs", {{"upload_reserve_seconds", 12}, {"checkpoint_every_steps", 2}, {"cpu_threads", 1}}}});
  miner.Start();
  const std::string task_id = CreateTestTask(validator_->admin(), 40);
  ASSERT_TRUE(miner.WaitForJob(task_id,
                               [](const JobStatus& job) { return job.phase == JobPhase::kTraining && job.step >= 4; }))
      << miner.Log();
  // What the operator sees meanwhile.
  const nlohmann::json status = miner.Status();
  ASSERT_TRUE(status.is_array() && status.size() == 1) << status.dump();
  EXPECT_EQ(status[0]["task_id"], task_id);
  EXPECT_EQ(status[0]["phase"], "training");
  EXPECT_EQ(status[0]["strategy"], "fixed");
  EXPECT_GE(status[0]["step"].get<int64_t>(), 4);
  EXPECT_GT(status[0]["seconds_left"].get<int64_t>(), 0);
  miner.Kill();
  ASSERT_TRUE(miner.Job(task_id).has_value());
  const int64_t step_at_kill = miner.Job(task_id)->step;

  // Restarted, it trains on; SIGTERM then checkpoints and stops it cleanly with the job kept.
  miner.Start();
  ASSERT_TRUE(miner.WaitForJob(task_id, [&](const JobStatus& job) { return job.step >= step_at_kill + 4; }))
      << miner.Log();
  EXPECT_EQ(miner.Stop(), 0);
  ASSERT_TRUE(miner.Job(task_id).has_value());
  EXPECT_EQ(miner.Job(task_id)->phase, JobPhase::kTraining);
  EXPECT_NE(miner.Log().find("stopped; its state is kept for the next start"), std::string::npos) << miner.Log();

  miner.Start();
  ASSERT_TRUE(miner.WaitForJob(task_id, [](const JobStatus& job) { return job.phase == JobPhase::kUploading; }))
      << miner.Log();
  std::this_thread::sleep_for(1s);  // some of it sent
  miner.Kill();
  ASSERT_TRUE(miner.Job(task_id).has_value());
  ASSERT_EQ(miner.Job(task_id)->phase, JobPhase::kUploading);

  miner.Start();
  v1::GetTaskResponse task = WaitForScores(task_id);
  ASSERT_EQ(task.task().status(), v1::TASK_STATUS_SCORED) << task.task().failure_reason() << miner.Log();
  ASSERT_EQ(task.submissions_size(), 1);
  EXPECT_EQ(task.submissions(0).status(), v1::SUBMISSION_STATUS_SCORED) << task.submissions(0).status_reason();
  ASSERT_TRUE(miner.Job(task_id).has_value());
  EXPECT_EQ(miner.Job(task_id)->phase, JobPhase::kSubmitted);
  const std::string log = miner.Log();
  // The second start went on from a checkpoint, not from the first step; the third sent only the rest.
  EXPECT_NE(log.find("resuming (training)"), std::string::npos) << log;
  EXPECT_NE(log.find("resuming (uploading)"), std::string::npos) << log;
  const size_t first_resume = log.find("resumed from step");
  ASSERT_NE(first_resume, std::string::npos) << log;
  EXPECT_NE(log.find("resumed from step", first_resume + 1), std::string::npos) << log;  // after the SIGTERM too
  EXPECT_NE(log.find("resuming the upload"), std::string::npos) << log;
  EXPECT_GT(step_at_kill, 0);
  EXPECT_EQ(miner.Stop(), 0);
  EXPECT_EQ(validator_->Stop(), 0);
}

TEST_F(MinerDaemonTest, ATaskTheValidatorCancelsEndsTheJobWithTheReasonWhileTheMinerGoesOn) {
  nlohmann::json strategy = TestStrategy("fixed");
  strategy["hyperparameters"]["epochs"] = 1000;  // trains until the deadline unless stopped
  MinerProcess miner(dir_.path() / "miner", validator_->gateway(), strategy);
  miner.Start();
  const std::string task_id = CreateTestTask(validator_->admin(), 60);
  ASSERT_TRUE(miner.WaitForJob(task_id,
                               [](const JobStatus& job) { return job.phase == JobPhase::kTraining && job.step >= 2; }))
      << miner.Log();
  testing::ProcessResult cancel = testing::RunProcess(
      {GRADIENTS_CLI_PATH, "task", "cancel", task_id, "--validator", validator_->admin(), "--reason", "operator test"});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
  // The next progress report hears it: the job ends long before its deadline, saying why.
  ASSERT_TRUE(miner.WaitForJob(task_id, [](const JobStatus& job) { return job.phase == JobPhase::kFailed; }))
      << miner.Log();
  EXPECT_NE(miner.Job(task_id)->detail.find("the validator cancelled the task"), std::string::npos)
      << miner.Job(task_id)->detail;
  EXPECT_EQ(miner.Stop(), 0);  // the daemon itself went on
  EXPECT_EQ(validator_->Stop(), 0);
}

TEST(MinerStart, ABadConfigOrACudaDeviceWithoutAGpuStopsTheMinerAtStartWithTheReason) {
  testing::TempDir dir;
  ASSERT_EQ(testing::RunProcess({GRADIENTS_CLI_PATH, "keygen", "--out", (dir.path() / "miner.key").string()}).exit_code,
            0);
  nlohmann::json config = {{"key_file", (dir.path() / "miner.key").string()},
                           {"validators", {{{"address", "127.0.0.1:1"}, {"validator_id", "v"}}}},
                           {"work_dir", (dir.path() / "work").string()},
                           {"device", "cuda"},
                           {"strategy", {{"name", "halving"}}}};
  std::ofstream(dir.path() / "bad.json") << config.dump();
  testing::ProcessResult bad =
      testing::RunProcess({GRADIENTS_MINER_PATH, "--config", (dir.path() / "bad.json").string()});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("miner.strategy.search_space: the halving strategy needs at least one searched"),
            std::string::npos)
      << bad.err;

  if (train::ResolveComputeDevice("cuda").ok()) GTEST_SKIP() << "this machine has a GPU";
  config.erase("strategy");
  std::ofstream(dir.path() / "cuda.json") << config.dump();
  testing::ProcessResult cuda =
      testing::RunProcess({GRADIENTS_MINER_PATH, "--config", (dir.path() / "cuda.json").string()});
  EXPECT_EQ(cuda.exit_code, 1);
  EXPECT_NE(cuda.err.find("device cuda: device \"cuda\": CUDA is not available"), std::string::npos) << cuda.err;
}

}  // namespace
}  // namespace gradients::miner
