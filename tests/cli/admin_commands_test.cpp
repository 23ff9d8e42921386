// `gradients task list|show|cancel` and `gradients health` against a real `gradients-validator`
// process, as an operator runs them.
#include <signal.h>

#include <fstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "validator/state/data_directory.h"
#include "validator/state/registry.h"

namespace gradients::cli {
namespace {

using testing::ProcessResult;

const std::filesystem::path kModel = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models" / "llama_mha";

class AdminCommands : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string rows;
    for (int i = 0; i < 20; ++i) rows += "{\"instruction\": \"q" + std::to_string(i) + "\", \"output\": \"a\"}\n";
    std::ofstream(dir_ / "qa.jsonl") << rows;
    {
      validator::DataDirectory data = std::move(*validator::OpenDataDirectory(dir_ / "data"));
      const validator::ModelRecord model = *validator::RegisterModel(*data.store, *data.blobs, kModel, "llama", 1);
      const validator::DatasetRecord dataset = *validator::RegisterDataset(*data.store, *data.blobs, dir_ / "qa.jsonl", "qa", 1);
      for (const char* id : {"t1", "t2"}) {
        ASSERT_TRUE(data.store
                        ->CreateTask({.id = id, .type = "instruct", .model_hash = model.hash,
                                      .dataset_hash = dataset.hash, .columns = {.columns = {{"instruction", "instruction"}}},
                                      .duration_s = 600, .pool_size = 3, .created_at_ms = 1, .updated_at_ms = 1})
                        .ok());
      }
    }
    const nlohmann::json config = {{"data_dir", (dir_ / "data").string()},
                                   {"gateway", {{"listen", "127.0.0.1:0"}}},
                                   {"admin", {{"listen", "127.0.0.1:0"}}},
                                   {"auth", {{"validator_id", "operator-test"}}}};
    std::ofstream(dir_ / "validator.json") << config.dump();
    validator_ = std::make_unique<testing::BackgroundProcess>(
        std::vector<std::string>{GRADIENTS_VALIDATOR_PATH, "--config", (dir_ / "validator.json").string()},
        dir_ / "validator.log");
    for (int i = 0; i < 600 && address_.empty(); ++i) {
      common::Result<std::string> ports = common::ReadFileToString(dir_ / "data" / "ports.json", 1024);
      if (ports.ok()) address_ = "127.0.0.1:" + std::to_string(nlohmann::json::parse(*ports)["admin"].get<int>());
      else if (validator_->WaitFor(std::chrono::milliseconds(50))) break;
    }
    ASSERT_FALSE(address_.empty()) << *common::ReadFileToString(dir_ / "validator.log", 1 << 20);
  }
  void TearDown() override {
    validator_->Signal(SIGTERM);
    EXPECT_EQ(validator_->WaitFor(std::chrono::seconds(20)), 0);
  }
  testing::ProcessResult Gradients(std::vector<std::string> args) {
    args.insert(args.begin(), GRADIENTS_CLI_PATH);
    args.insert(args.end(), {"--validator", address_});
    return testing::RunProcess(args);
  }

  testing::TempDir dir_;
  std::unique_ptr<testing::BackgroundProcess> validator_;
  std::string address_;
};

TEST_F(AdminCommands, TheOperatorListsShowsAndCancelsTasks) {
  testing::ProcessResult list = Gradients({"task", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  const nlohmann::json tasks = nlohmann::json::parse(list.out)["tasks"];
  ASSERT_EQ(tasks.size(), 2u);
  EXPECT_EQ(tasks[0]["spec"]["taskId"], "t2");  // newest first
  EXPECT_EQ(tasks[0]["status"], "TASK_STATUS_OFFERING");  // prepared when the validator started
  EXPECT_EQ(tasks[0]["testRows"], "2");

  testing::ProcessResult cancel = Gradients({"task", "cancel", "t1", "--reason", "wrong dataset"});
  ASSERT_EQ(cancel.exit_code, 0) << cancel.err;
  EXPECT_EQ(nlohmann::json::parse(cancel.out)["task"]["failureReason"], "cancelled by the operator: wrong dataset");
  testing::ProcessResult show = Gradients({"task", "show", "t1"});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_EQ(nlohmann::json::parse(show.out)["task"]["status"], "TASK_STATUS_FAILED");

  testing::ProcessResult failed = Gradients({"task", "list", "--status", "failed"});
  ASSERT_EQ(failed.exit_code, 0) << failed.err;
  EXPECT_EQ(nlohmann::json::parse(failed.out)["tasks"].size(), 1u);
  testing::ProcessResult health = Gradients({"health"});
  ASSERT_EQ(health.exit_code, 0) << health.err;
  EXPECT_EQ(nlohmann::json::parse(health.out)["validatorId"], "operator-test");
}

TEST_F(AdminCommands, ATaskCreatedByNameIsPreparedAndOfferedInTheBackground) {
  const std::vector<std::string> create = {"task", "create", "--type", "instruct", "--model", "llama", "--dataset",
                                           "qa", "--minutes", "30", "--pool", "2..4", "--request-id", "first-try"};
  testing::ProcessResult created = Gradients(create);
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const nlohmann::json task = nlohmann::json::parse(created.out)["task"];
  const std::string id = task["spec"]["taskId"];
  EXPECT_EQ(task["minPoolSize"], 2);
  EXPECT_EQ(task["maxPoolSize"], 4);
  // The same request again (a retry after a lost answer): the same task.
  testing::ProcessResult retried = Gradients(create);
  ASSERT_EQ(retried.exit_code, 0) << retried.err;
  EXPECT_EQ(nlohmann::json::parse(retried.out)["task"]["spec"]["taskId"], id);

  std::string status;
  for (int i = 0; i < 100 && status != "TASK_STATUS_OFFERING"; ++i) {
    testing::ProcessResult show = Gradients({"task", "show", id});
    ASSERT_EQ(show.exit_code, 0) << show.err;
    status = nlohmann::json::parse(show.out)["task"]["status"];
    if (status != "TASK_STATUS_OFFERING") std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  EXPECT_EQ(status, "TASK_STATUS_OFFERING");

  testing::ProcessResult refused = Gradients({"task", "create", "--type", "instruct", "--model", "llama", "--dataset", "qa",
                                     "--columns", "output=answer"});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("role \"output\" reads column \"answer\", which dataset qa does not have"),
            std::string::npos)
      << refused.err;
}

TEST_F(AdminCommands, FailuresNameWhatWentWrong) {
  testing::ProcessResult missing = Gradients({"task", "show", "nope"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(missing.err, "gradients task show: no task nope\n");
  testing::ProcessResult status = Gradients({"task", "list", "--status", "finished"});
  EXPECT_EQ(status.exit_code, 1);
  EXPECT_NE(status.err.find("--status: unknown status \"finished\""), std::string::npos) << status.err;
  testing::ProcessResult nobody = testing::RunProcess(
      {GRADIENTS_CLI_PATH, "health", "--validator", "127.0.0.1:1", "--timeout", "5"});
  EXPECT_EQ(nobody.exit_code, 1);
  EXPECT_NE(nobody.err.find("no answer from a validator at 127.0.0.1:1"), std::string::npos) << nobody.err;
}

}  // namespace
}  // namespace gradients::cli
