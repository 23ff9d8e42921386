#include "miner/training_job.h"

#include <gtest/gtest.h>

#include <cmath>
#include <thread>

#include "gradients/v1/admin.grpc.pb.h"
#include "tests/miner/validator_process.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace gradients::miner {
namespace {

// The whole job on the real validator: a claimed task of the tiny preset model, trained for a few
// steps on the CPU, uploaded, and scored by the validator's own evaluation after the deadline.
TEST(TrainingJob, TrainsUploadsAndIsScoredByTheValidator) {
  testing::TempDir dir;
  ASSERT_TRUE(InitTinyModel(dir.path() / "tiny"));
  nlohmann::json config = TestModelAndDataset(dir.path(), 30);
  config["models"] = {{{"path", (dir.path() / "tiny").string()}, {"name", "llama"}}};
  config["evaluation"] = {{"gradients_path", GRADIENTS_CLI_PATH}, {"threads", 1}};
  ValidatorProcess validator(dir.path(), config);
  ASSERT_TRUE(validator.Start());
  const std::string task_id = CreateTestTask(validator.admin(), 15);
  const common::SigningKey key = common::SigningKey::Generate();
  std::unique_ptr<ValidatorConnection> connection = std::move(*ValidatorConnection::Open(
      {.address = validator.gateway(), .validator_id = "validator-under-test", .tls_ca_file = ""}, key, "test"));
  std::optional<v1::Claim> claim = ClaimWhenOffering(*connection, task_id);
  ASSERT_TRUE(claim.has_value()) << validator.Log();

  TrainingJobOptions options;
  options.job_dir = JobDir(dir.path(), "validator-under-test", task_id);
  options.strategy.hyperparameters.max_steps = 3;
  options.strategy.hyperparameters.validation_fraction = 0;
  options.upload_reserve = std::chrono::seconds(3);
  BlobCache cache(dir.path() / "cache");
  common::Result<JobStatus> result = RunTrainingJob(*connection, cache, ToJobClaim(*claim), options, common::SystemClockMs);
  ASSERT_TRUE(result.ok()) << result.status().ToString() << "\n" << validator.Log();
  EXPECT_EQ(result->phase, JobPhase::kSubmitted);
  EXPECT_EQ(result->trials_done, 1);
  EXPECT_FALSE(result->receipt_id.empty());
  // What the status command reads says the same.
  common::Result<JobStatus> recorded = LoadJobStatus(options.job_dir);
  ASSERT_TRUE(recorded.ok()) << recorded.status().ToString();
  EXPECT_EQ(recorded->phase, JobPhase::kSubmitted);
  EXPECT_EQ(recorded->receipt_id, result->receipt_id);

  // After the deadline the validator evaluates it on the hidden split: scored, first of one.
  auto admin = v1::Admin::NewStub(grpc::CreateChannel(validator.admin(), grpc::InsecureChannelCredentials()));
  v1::GetTaskResponse task;
  for (int i = 0; i < 600 && task.task().status() != v1::TASK_STATUS_SCORED; ++i) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::GetTaskRequest request;
    request.set_task_id(task_id);
    task.Clear();
    ASSERT_TRUE(admin->GetTask(&context, request, &task).ok());
    ASSERT_NE(task.task().status(), v1::TASK_STATUS_FAILED) << task.task().failure_reason();
    if (task.task().status() != v1::TASK_STATUS_SCORED) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_EQ(task.task().status(), v1::TASK_STATUS_SCORED) << validator.Log();
  ASSERT_EQ(task.submissions_size(), 1);
  EXPECT_EQ(task.submissions(0).status(), v1::SUBMISSION_STATUS_SCORED) << task.submissions(0).status_reason();
  EXPECT_EQ(task.submissions(0).receipt_id(), result->receipt_id);
  EXPECT_TRUE(std::isfinite(task.submissions(0).test_loss()));
  EXPECT_EQ(task.submissions(0).points(), 3);
  connection.reset();
  EXPECT_EQ(validator.Stop(), 0);
}

}  // namespace
}  // namespace gradients::miner
