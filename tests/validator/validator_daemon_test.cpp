// `gradients-validator` as a real process: started from a config file, called over gRPC on
// loopback, stopped with a signal.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "gradients/v1/admin.grpc.pb.h"
#include "gradients/v1/miner_gateway.grpc.pb.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "validator/data_directory.h"
#include "validator/miner_auth.h"
#include "validator/registry.h"

namespace gradients {
namespace {

using testing::BackgroundProcess;

const std::filesystem::path kModel = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models" / "llama_mha";

class ValidatorDaemonProcess : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string rows;
    for (int i = 0; i < 20; ++i) rows += "{\"instruction\": \"q" + std::to_string(i) + "\", \"output\": \"a\"}\n";
    std::ofstream(dir_ / "train.jsonl") << rows;
    config_ = {{"data_dir", (dir_ / "data").string()},
               {"gateway", {{"listen", "127.0.0.1:0"}}},
               {"admin", {{"listen", "127.0.0.1:0"}}},
               {"auth", {{"validator_id", "validator-under-test"}}},
               {"log", {{"level", "info"}}},
               {"models", {{{"path", kModel.string()}}}},
               {"datasets", {{{"path", (dir_ / "train.jsonl").string()}, {"name", "qa"}}}}};
  }
  std::unique_ptr<BackgroundProcess> Start() {
    std::ofstream(dir_ / "validator.json") << config_.dump(2);
    return std::make_unique<BackgroundProcess>(
        std::vector<std::string>{GRADIENTS_VALIDATOR_PATH, "--config", (dir_ / "validator.json").string()},
        dir_ / "validator.log");
  }
  // A server's port ("gateway" or "admin"), once the daemon has written ports.json (it does so
  // when it serves).
  int WaitForPort(BackgroundProcess& process, const char* server = "gateway") {
    for (int i = 0; i < 600; ++i) {
      Result<std::string> ports = ReadFileToString(dir_ / "data" / "ports.json", 1024);
      if (ports.ok()) return nlohmann::json::parse(*ports)[server];
      if (process.WaitFor(std::chrono::milliseconds(50))) break;  // it exited
    }
    ADD_FAILURE() << "no ports.json; log:\n" << Log();
    return 0;
  }
  std::string Log() { return ReadFileToString(dir_ / "validator.log", 1 << 20).value(); }

  testing::TempDir dir_;
  nlohmann::json config_;
};

TEST_F(ValidatorDaemonProcess, ServesMinerAuthenticationAndStopsCleanlyOnSigterm) {
  std::unique_ptr<BackgroundProcess> validator = Start();
  const int port = WaitForPort(*validator);
  ASSERT_GT(port, 0);
  auto stub = v1::MinerGateway::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  const SigningKey miner = SigningKey::Generate();
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::GetChallengeRequest request;
  request.set_miner_public_key(std::string(miner.public_key().bytes.begin(), miner.public_key().bytes.end()));
  v1::GetChallengeResponse challenge;
  grpc::Status status = stub->GetChallenge(&context, request, &challenge);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(challenge.validator_id(), "validator-under-test");

  // The operator's side, on its own loopback port.
  const int admin_port = WaitForPort(*validator, "admin");
  ASSERT_GT(admin_port, 0);
  ASSERT_NE(admin_port, port);
  auto admin = v1::Admin::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(admin_port), grpc::InsecureChannelCredentials()));
  grpc::ClientContext admin_context;
  admin_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::HealthResponse health;
  status = admin->Health(&admin_context, v1::HealthRequest(), &health);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(health.validator_id(), "validator-under-test");
  EXPECT_EQ(health.version(), "0.1.0");

  validator->Signal(SIGTERM);
  EXPECT_EQ(validator->WaitFor(std::chrono::seconds(20)), 0) << Log();
  EXPECT_NE(Log().find("SIGTERM: stopping"), std::string::npos) << Log();
  // What the config listed was registered.
  DataDirectory data = std::move(*OpenDataDirectory(dir_ / "data"));
  EXPECT_EQ(data.store->ListModels()->size(), 1u);
  EXPECT_EQ(data.store->ListDatasets()->at(0).name, "qa");
}

TEST_F(ValidatorDaemonProcess, ATaskLeftPendingByTheLastRunIsPreparedAtStart) {
  std::string task_id = "t1";
  {
    DataDirectory data = std::move(*OpenDataDirectory(dir_ / "data"));
    const ModelRecord model = *RegisterModel(*data.store, *data.blobs, kModel, "llama", 1);
    const DatasetRecord dataset = *RegisterDataset(*data.store, *data.blobs, dir_ / "train.jsonl", "qa", 1);
    ASSERT_TRUE(data.store
                    ->CreateTask({.id = task_id, .type = "instruct", .model_hash = model.hash,
                                  .dataset_hash = dataset.hash, .columns_json = "{}", .minutes = 10, .pool_size = 3,
                                  .created_at_ms = 1, .updated_at_ms = 1})
                    .ok());
  }
  std::unique_ptr<BackgroundProcess> validator = Start();
  ASSERT_GT(WaitForPort(*validator), 0);
  validator->Signal(SIGINT);
  EXPECT_EQ(validator->WaitFor(std::chrono::seconds(20)), 0) << Log();
  DataDirectory data = std::move(*OpenDataDirectory(dir_ / "data"));
  const TaskRecord task = *data.store->GetTask(task_id);
  EXPECT_EQ(task.status, TaskStatus::kOffering);
  EXPECT_EQ(task.train_rows + task.test_rows, 20);
}

TEST_F(ValidatorDaemonProcess, AdminBeyondLoopbackNeedsAPrivateTokenFileAndTheToken) {
  std::ofstream(dir_ / "admin.token") << "a-token-of-some-length\n";
  std::filesystem::permissions(dir_ / "admin.token", std::filesystem::perms(0644));
  config_["admin"] = {{"listen", "0.0.0.0:0"}, {"token_file", (dir_ / "admin.token").string()}};
  std::ofstream(dir_ / "validator.json") << config_.dump(2);
  testing::ProcessResult refused =
      testing::RunProcess({GRADIENTS_VALIDATOR_PATH, "--config", (dir_ / "validator.json").string()});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("is open to group or others (chmod 600"), std::string::npos) << refused.err;

  std::filesystem::permissions(dir_ / "admin.token", std::filesystem::perms(0600));
  std::ofstream(dir_ / "admin.token", std::ios::trunc) << "a-token-of\nsome-length\n";  // no client could send it
  refused = testing::RunProcess({GRADIENTS_VALIDATOR_PATH, "--config", (dir_ / "validator.json").string()});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("printable ASCII without spaces or line breaks"), std::string::npos) << refused.err;
  std::ofstream(dir_ / "admin.token", std::ios::trunc) << "a-token-of-some-length\n";
  std::unique_ptr<BackgroundProcess> validator = Start();
  const int port = WaitForPort(*validator, "admin");
  ASSERT_GT(port, 0);
  auto admin = v1::Admin::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  for (const std::string token : {"", "a-token-of-some-length"}) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) context.AddMetadata("authorization", "Bearer " + token);
    v1::HealthResponse health;
    const grpc::Status status = admin->Health(&context, v1::HealthRequest(), &health);
    EXPECT_EQ(status.error_code(), token.empty() ? grpc::StatusCode::UNAUTHENTICATED : grpc::StatusCode::OK) << token;
  }
  validator->Signal(SIGTERM);
  EXPECT_EQ(validator->WaitFor(std::chrono::seconds(20)), 0) << Log();
}

TEST_F(ValidatorDaemonProcess, ABadConfigIsRefusedNamingEachField) {
  config_["gatway"] = config_["gateway"];
  config_["auth"].erase("validator_id");
  std::ofstream(dir_ / "validator.json") << config_.dump(2);
  testing::ProcessResult result =
      testing::RunProcess({GRADIENTS_VALIDATOR_PATH, "--config", (dir_ / "validator.json").string()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("validator.gatway: unknown key"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("validator.auth.validator_id: required key is missing"), std::string::npos) << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir_ / "data"));  // nothing was started
}

TEST_F(ValidatorDaemonProcess, AModelThatCannotBeRegisteredStopsTheStartWithTheReason) {
  std::filesystem::create_directories(dir_ / "bad-model");
  std::ofstream(dir_ / "bad-model" / "config.json") << "{}";
  config_["models"] = {{{"path", (dir_ / "bad-model").string()}}};
  std::ofstream(dir_ / "validator.json") << config_.dump(2);
  testing::ProcessResult result =
      testing::RunProcess({GRADIENTS_VALIDATOR_PATH, "--config", (dir_ / "validator.json").string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("models: "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("no *.safetensors weights"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace gradients
