// `gradients-validator` as a real process: started from a config file, called over gRPC on
// loopback, stopped with a signal.
#include <signal.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <fstream>
#include <thread>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/clock.h"
#include "common/durable_file.h"
#include "common/hex.h"
#include "gradients/v1/admin.grpc.pb.h"
#include "gradients/v1/miner_gateway.grpc.pb.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "tests/validator/http_get.h"
#include "tests/validator/scripted_miner.h"
#include "validator/market/miner_auth.h"
#include "validator/market/offer_rounds.h"
#include "validator/state/data_directory.h"
#include "validator/state/registry.h"
#include "validator/tasks/task_preparation.h"

namespace gradients::validator {
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
  std::unique_ptr<testing::BackgroundProcess> Start() {
    std::ofstream(dir_ / "validator.json") << config_.dump(2);
    return std::make_unique<testing::BackgroundProcess>(
        std::vector<std::string>{GRADIENTS_VALIDATOR_PATH, "--config", (dir_ / "validator.json").string()},
        dir_ / "validator.log");
  }
  // A server's port ("gateway" or "admin"), once the daemon has written ports.json (it does so
  // when it serves).
  int WaitForPort(testing::BackgroundProcess& process, const char* server = "gateway") {
    for (int i = 0; i < 600; ++i) {
      common::Result<std::string> ports = common::ReadFileToString(dir_ / "data" / "ports.json", 1024);
      if (ports.ok()) return nlohmann::json::parse(*ports)[server];
      if (process.WaitFor(std::chrono::milliseconds(50))) break;  // it exited
    }
    ADD_FAILURE() << "no ports.json; log:\n" << Log();
    return 0;
  }
  // weights.json once it holds weights (waiting up to 10 s); empty when it never does.
  nlohmann::json PublishedWeights() {
    for (int i = 0; i < 200; ++i) {
      common::Result<std::string> file = common::ReadFileToString(dir_ / "data" / "weights.json", 1 << 20);
      if (file.ok()) {
        nlohmann::json json = nlohmann::json::parse(*file);
        if (!json["weights"].empty()) return json;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return {};
  }
  std::string Log() {
    common::Result<std::string> log = common::ReadFileToString(dir_ / "validator.log", 1 << 20);
    return log.ok() ? *log : "";
  }

  testing::TempDir dir_;
  nlohmann::json config_;
};

TEST_F(ValidatorDaemonProcess, ServesMinerAuthenticationAndStopsCleanlyOnSigterm) {
  std::unique_ptr<testing::BackgroundProcess> validator = Start();
  const int port = WaitForPort(*validator);
  ASSERT_GT(port, 0);
  auto stub = v1::MinerGateway::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  const common::SigningKey miner = common::SigningKey::Generate();
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
                                  .dataset_hash = dataset.hash, .columns = {}, .duration_s = 600, .pool_size = 3,
                                  .created_at_ms = 1, .updated_at_ms = 1})
                    .ok());
  }
  std::unique_ptr<testing::BackgroundProcess> validator = Start();
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
  std::unique_ptr<testing::BackgroundProcess> validator = Start();
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

TEST_F(ValidatorDaemonProcess, WithTlsConfiguredMinersConnectOverTlsOnly) {
  const std::filesystem::path tls = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "tls";
  config_["gateway"]["tls_certificate_file"] = (tls / "validator.crt").string();
  config_["gateway"]["tls_private_key_file"] = (tls / "validator.key").string();
  std::unique_ptr<testing::BackgroundProcess> validator = Start();
  const int port = WaitForPort(*validator);
  ASSERT_GT(port, 0);
  const auto challenge = [&](const std::shared_ptr<grpc::ChannelCredentials>& credentials) {
    auto stub = v1::MinerGateway::NewStub(grpc::CreateChannel("127.0.0.1:" + std::to_string(port), credentials));
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::GetChallengeRequest request;
    const common::SigningKey miner = common::SigningKey::Generate();
    request.set_miner_public_key(std::string(miner.public_key().bytes.begin(), miner.public_key().bytes.end()));
    v1::GetChallengeResponse response;
    return stub->GetChallenge(&context, request, &response);
  };
  grpc::SslCredentialsOptions trusted;
  trusted.pem_root_certs = *common::ReadFileToString(tls / "validator.crt", 1 << 16);
  const grpc::Status over_tls = challenge(grpc::SslCredentials(trusted));
  EXPECT_TRUE(over_tls.ok()) << over_tls.error_message();
  EXPECT_FALSE(challenge(grpc::InsecureChannelCredentials()).ok());  // plaintext is not served
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

// A miner's calls to a running validator, as gradients-miner makes them.
class MinerClient {
 public:
  explicit MinerClient(int port)
      : stub_(v1::MinerGateway::NewStub(
            grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()))) {}

  // A fresh session for `miner` (a restarted validator forgot the earlier one).
  void Authenticate(TestMiner& miner) {
    v1::GetChallengeRequest request;
    request.set_miner_public_key(KeyBytes(miner.key));
    v1::GetChallengeResponse challenge;
    ASSERT_TRUE(stub_->GetChallenge(Context().get(), request, &challenge).ok());
    v1::AuthenticateResponse session;
    ASSERT_TRUE(stub_->Authenticate(Context().get(), Answer(challenge, miner.key), &session).ok());
    miner.token = session.session_token();
  }
  std::unique_ptr<grpc::ClientContext> Context(const TestMiner* miner = nullptr, int seconds = 20) {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
    if (miner != nullptr) context->AddMetadata("gradients-session", miner->token);
    return context;
  }
  v1::MinerGateway::Stub& stub() { return *stub_; }

 private:
  std::unique_ptr<v1::MinerGateway::Stub> stub_;
};

TEST_F(ValidatorDaemonProcess, AMinerTakesATaskFromOfferToReceiptAndNoAcknowledgedUploadIsLostToAKill) {
  config_["uploads"] = {{"sync_interval_bytes", 1 << 20}};
  std::unique_ptr<testing::BackgroundProcess> validator = Start();
  const int admin_port = WaitForPort(*validator, "admin");
  ASSERT_GT(admin_port, 0);
  auto admin = v1::Admin::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(admin_port), grpc::InsecureChannelCredentials()));
  v1::CreateTaskRequest create;
  create.set_type(v1::TASK_TYPE_INSTRUCT);
  create.set_base_model("llama_mha");
  create.set_dataset("qa");
  (*create.mutable_column_mapping()->mutable_columns())["instruction"] = "instruction";
  (*create.mutable_column_mapping()->mutable_columns())["output"] = "output";
  create.set_duration_seconds(600);
  create.set_min_pool_size(1);
  create.set_max_pool_size(2);
  grpc::ClientContext create_context;
  create_context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  v1::CreateTaskResponse created;
  grpc::Status status = admin->CreateTask(&create_context, create, &created);
  ASSERT_TRUE(status.ok()) << status.error_message();
  const std::string task_id = created.task().spec().task_id();

  // The miner: offer, claim, training split.
  TestMiner miner;
  auto client = std::make_unique<MinerClient>(WaitForPort(*validator));
  client->Authenticate(miner);
  v1::SubscribeOffersRequest subscription;
  subscription.mutable_capacity()->set_max_model_parameters(1'000'000'000);
  subscription.mutable_capacity()->add_task_types(v1::TASK_TYPE_INSTRUCT);
  subscription.mutable_capacity()->set_device(v1::DEVICE_KIND_CPU);
  subscription.mutable_capacity()->set_max_concurrent_tasks(1);
  auto offers_context = client->Context(&miner, 60);
  auto offers = client->stub().SubscribeOffers(offers_context.get(), subscription);
  v1::TaskOffer offer;
  ASSERT_TRUE(offers->Read(&offer)) << Log();
  EXPECT_EQ(offer.task_id(), task_id);
  v1::RespondToOfferRequest accept;
  accept.set_task_id(task_id);
  accept.set_decision(v1::OFFER_DECISION_ACCEPT);
  v1::RespondToOfferResponse claim;
  status = client->stub().RespondToOffer(client->Context(&miner).get(), accept, &claim);
  ASSERT_TRUE(status.ok()) << status.error_message();
  miner.claim_nonce = claim.claim().claim_nonce();
  const v1::BlobRef& split = claim.claim().task().training_split();
  v1::FetchBlobRequest fetch;
  *fetch.mutable_digest() = split.digest();
  auto fetch_context = client->Context(&miner);
  auto reader = client->stub().FetchBlob(fetch_context.get(), fetch);
  std::string training;
  for (v1::BlobChunk chunk; reader->Read(&chunk);) training += chunk.data();
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(training.size(), split.size_bytes());
  EXPECT_EQ(std::count(training.begin(), training.end(), '\n'), static_cast<long>(claim.claim().task().training_rows()));
  // The operator sees the miner: connected, with what it declared.
  testing::ProcessResult miners = testing::RunProcess(
      {GRADIENTS_CLI_PATH, "miners", "--validator", "127.0.0.1:" + std::to_string(admin_port)});
  ASSERT_EQ(miners.exit_code, 0) << miners.err;
  const nlohmann::json listed = nlohmann::json::parse(miners.out)["miners"];
  ASSERT_EQ(listed.size(), 1u) << miners.out;
  EXPECT_EQ(listed[0]["connected"], true);
  EXPECT_EQ(listed[0]["clientVersion"], "gradients-miner/test");
  EXPECT_EQ(listed[0]["capacity"]["maxModelParameters"], "1000000000");
  EXPECT_EQ(listed[0]["activeClaims"], 1);
  offers_context->TryCancel();

  // Half an upload, then the validator is killed.
  const Checkpoint checkpoint = LoraCheckpoint(3'000'000);
  {
    v1::UploadReceipt receipt;
    auto upload_context = client->Context(&miner);
    auto writer = client->stub().UploadCheckpoint(upload_context.get(), &receipt);
    ASSERT_TRUE(writer->Write(BeginMessage(task_id, miner.claim_nonce, checkpoint.manifest)));
    for (const v1::UploadMessage& chunk : ChunkMessages(checkpoint, {}, {checkpoint.contents[0].size(), 2'500'000})) {
      ASSERT_TRUE(writer->Write(chunk));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    validator->Signal(SIGKILL);
    EXPECT_FALSE(writer->Finish().ok());
  }
  validator->WaitFor(std::chrono::seconds(20));
  const auto restart = [&] {
    std::filesystem::remove(dir_ / "data" / "ports.json");
    validator = Start();
    client = std::make_unique<MinerClient>(WaitForPort(*validator));
    client->Authenticate(miner);
  };
  restart();

  // The miner resumes from what the validator kept.
  v1::GetUploadStatusRequest status_request;
  status_request.set_task_id(task_id);
  v1::GetUploadStatusResponse upload_status;
  ASSERT_TRUE(client->stub().GetUploadStatus(client->Context(&miner).get(), status_request, &upload_status).ok());
  const bool resume = upload_status.state() == v1::UPLOAD_STATE_PARTIAL;
  std::vector<uint64_t> from(2, 0);
  if (resume) from = {upload_status.durable_offsets(0), upload_status.durable_offsets(1)};
  std::vector<v1::UploadMessage> rest = {BeginMessage(task_id, miner.claim_nonce, checkpoint.manifest, resume)};
  for (v1::UploadMessage& chunk : ChunkMessages(checkpoint, from)) rest.push_back(std::move(chunk));
  rest.push_back(EndMessage(miner.key, miner.key.public_key(), task_id, miner.claim_nonce, checkpoint.manifest));
  v1::UploadReceipt receipt;
  {
    auto upload_context = client->Context(&miner);
    auto writer = client->stub().UploadCheckpoint(upload_context.get(), &receipt);
    for (const v1::UploadMessage& message : rest) ASSERT_TRUE(writer->Write(message));
    writer->WritesDone();
    status = writer->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << Log();
  }
  EXPECT_EQ(receipt.bytes_received(), common::CheckpointBytes(checkpoint.manifest) - from[0] - from[1]);

  // Killed right after the receipt: the submission is there after the restart.
  validator->Signal(SIGKILL);
  validator->WaitFor(std::chrono::seconds(20));
  restart();
  ASSERT_TRUE(client->stub().GetUploadStatus(client->Context(&miner).get(), status_request, &upload_status).ok());
  EXPECT_EQ(upload_status.state(), v1::UPLOAD_STATE_COMPLETE);
  EXPECT_EQ(upload_status.receipt().receipt_id(), receipt.receipt_id());
  validator->Signal(SIGTERM);
  EXPECT_EQ(validator->WaitFor(std::chrono::seconds(20)), 0) << Log();
}

TEST_F(ValidatorDaemonProcess, AFullTaskWithHonestMinersGoesFromCreateToScoresAndPublishedWeights) {
  testing::ProcessResult init = testing::RunProcess(
      {GRADIENTS_CLI_PATH, "init-model", "--preset", "tiny", "--out", (dir_ / "tiny").string(), "--tokenizer",
       (std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models/tokenizer_sp512/tokenizer.model").string()});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  // A testnet's settings: a task of a few seconds, evaluation as soon as it ends, weights every second.
  config_["models"] = {{{"path", (dir_ / "tiny").string()}, {"name", "tiny"}}};
  config_["tasks"] = {{"min_duration_seconds", 1}};
  config_["evaluation"] = {{"gradients_path", GRADIENTS_CLI_PATH}, {"threads", 1}};
  config_["weights"] = {{"interval_ms", 1000}};
  std::unique_ptr<testing::BackgroundProcess> validator = Start();
  const std::string admin_address = "127.0.0.1:" + std::to_string(WaitForPort(*validator, "admin"));
  auto admin = v1::Admin::NewStub(grpc::CreateChannel(admin_address, grpc::InsecureChannelCredentials()));
  const auto admin_context = [] {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    return context;
  };

  // Three miners connect and wait for offers.
  MinerClient client(WaitForPort(*validator));
  std::vector<TestMiner> miners(3);
  std::vector<std::unique_ptr<grpc::ClientContext>> offer_contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::TaskOffer>>> offers;
  for (TestMiner& miner : miners) {
    client.Authenticate(miner);
    v1::SubscribeOffersRequest subscription;
    subscription.mutable_capacity()->set_max_model_parameters(1'000'000'000);
    subscription.mutable_capacity()->add_task_types(v1::TASK_TYPE_INSTRUCT);
    subscription.mutable_capacity()->set_device(v1::DEVICE_KIND_CPU);
    subscription.mutable_capacity()->set_max_concurrent_tasks(1);
    offer_contexts.push_back(client.Context(&miner, 60));
    offers.push_back(client.stub().SubscribeOffers(offer_contexts.back().get(), subscription));
  }
  // Twenty seconds of training: shorter than the default limits allow, as this config's tasks section does.
  testing::ProcessResult created = testing::RunProcess(
      {GRADIENTS_CLI_PATH, "task", "create", "--validator", admin_address, "--type", "instruct", "--model", "tiny",
       "--dataset", "qa", "--seconds", "20", "--pool", "3..3"});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  const std::string task_id = nlohmann::json::parse(created.out)["task"]["spec"]["taskId"];

  // Each takes the offer, fetches the training split and uploads its adapter.
  std::vector<std::string> receipts;
  float scale = 0.01f;
  for (size_t i = 0; i < miners.size(); ++i) {
    TestMiner& miner = miners[i];
    v1::TaskOffer offer;
    ASSERT_TRUE(offers[i]->Read(&offer)) << Log();
    ASSERT_EQ(offer.task_id(), task_id);
    v1::RespondToOfferRequest accept;
    accept.set_task_id(task_id);
    accept.set_decision(v1::OFFER_DECISION_ACCEPT);
    v1::RespondToOfferResponse claim;
    grpc::Status status = client.stub().RespondToOffer(client.Context(&miner).get(), accept, &claim);
    ASSERT_TRUE(status.ok()) << status.error_message();
    miner.claim_nonce = claim.claim().claim_nonce();
    v1::FetchBlobRequest fetch;
    *fetch.mutable_digest() = claim.claim().task().training_split().digest();
    auto fetch_context = client.Context(&miner);
    auto reader = client.stub().FetchBlob(fetch_context.get(), fetch);
    std::string training;
    for (v1::BlobChunk chunk; reader->Read(&chunk);) training += chunk.data();
    ASSERT_TRUE(reader->Finish().ok());
    EXPECT_EQ(std::count(training.begin(), training.end(), '\n'),
              static_cast<long>(claim.claim().task().training_rows()));

    const Checkpoint checkpoint = LoraCheckpointOf(TinyLoraAdapter(scale, scale));
    scale *= 4;
    v1::UploadReceipt receipt;
    auto upload_context = client.Context(&miner);
    auto writer = client.stub().UploadCheckpoint(upload_context.get(), &receipt);
    for (const v1::UploadMessage& message : HonestUpload(miner, task_id, checkpoint)) {
      ASSERT_TRUE(writer->Write(message));
    }
    writer->WritesDone();
    status = writer->Finish();
    ASSERT_TRUE(status.ok()) << status.error_message() << "\n" << Log();
    receipts.push_back(receipt.receipt_id());
    offer_contexts[i]->TryCancel();
  }

  // After the deadline: evaluated, ranked by test loss, points awarded.
  v1::GetTaskResponse task;
  for (int i = 0; i < 1200 && task.task().status() != v1::TASK_STATUS_SCORED; ++i) {
    v1::GetTaskRequest request;
    request.set_task_id(task_id);
    task.Clear();
    ASSERT_TRUE(admin->GetTask(admin_context().get(), request, &task).ok());
    if (task.task().status() == v1::TASK_STATUS_FAILED) FAIL() << task.task().failure_reason();
    if (task.task().status() != v1::TASK_STATUS_SCORED) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(task.task().status(), v1::TASK_STATUS_SCORED) << Log();
  ASSERT_EQ(task.submissions_size(), 3);
  for (int i = 0; i < 3; ++i) {
    const v1::Submission& submission = task.submissions(i);
    EXPECT_EQ(submission.status(), v1::SUBMISSION_STATUS_SCORED) << submission.status_reason();
    EXPECT_EQ(submission.rank(), static_cast<uint32_t>(i + 1));
    EXPECT_EQ(submission.points(), i == 0 ? 3 : 0);
    EXPECT_TRUE(std::isfinite(submission.test_loss()));
    if (i > 0) {
      EXPECT_LT(task.submissions(i - 1).test_loss(), submission.test_loss());
    }
  }
  const std::string& winner_key = task.submissions(0).miner_public_key();
  const std::string winner = common::ToHex(std::span(reinterpret_cast<const uint8_t*>(winner_key.data()), winner_key.size()));

  // Each miner reads its own result.
  for (size_t i = 0; i < miners.size(); ++i) {
    v1::GetMyResultsRequest request;
    request.set_task_id(task_id);
    v1::GetMyResultsResponse results;
    ASSERT_TRUE(client.stub().GetMyResults(client.Context(&miners[i]).get(), request, &results).ok());
    ASSERT_EQ(results.results_size(), 1);
    EXPECT_EQ(results.results(0).receipt_id(), receipts[i]);
    EXPECT_EQ(results.results(0).status(), v1::SUBMISSION_STATUS_SCORED);
    EXPECT_EQ(results.results(0).points(), miners[i].key.public_key().ToHex() == winner ? 3 : 0);
  }

  // The weights count the task: written to weights.json, summing to 1, the winner first.
  const nlohmann::json published = PublishedWeights();
  ASSERT_FALSE(published.empty()) << Log();
  double sum = 0, winner_weight = 0, highest = 0;
  for (const nlohmann::json& entry : published["weights"]) {
    const double weight = entry["weight"];
    sum += weight;
    highest = std::max(highest, weight);
    if (entry["miner"] == winner) winner_weight = weight;
  }
  EXPECT_NEAR(sum, 1.0, 1e-12) << published.dump();
  EXPECT_GT(winner_weight, 0);
  EXPECT_EQ(winner_weight, highest) << published.dump();
  validator->Signal(SIGTERM);
  EXPECT_EQ(validator->WaitFor(std::chrono::seconds(20)), 0) << Log();
}

TEST_F(ValidatorDaemonProcess, ATaskPastItsDeadlineIsScoredWeightedAndAuditedAndAKillDuringEvaluationChangesNoScore) {
  testing::ProcessResult init = testing::RunProcess(
      {GRADIENTS_CLI_PATH, "init-model", "--preset", "tiny", "--out", (dir_ / "tiny").string(), "--tokenizer",
       (std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models/tokenizer_sp512/tokenizer.model").string()});
  ASSERT_EQ(init.exit_code, 0) << init.err;
  // A task whose deadline passed ten minutes ago, with three claims and two uploads.
  const int64_t opened_at = common::SystemClockMs() - 20 * 60'000;
  std::vector<std::string> miners;
  for (int i = 0; i < 3; ++i) miners.push_back(common::SigningKey::Generate().public_key().ToHex());
  std::sort(miners.begin(), miners.end());  // evaluations are listed by miner
  {
    DataDirectory data = std::move(*OpenDataDirectory(dir_ / "data"));
    const ModelRecord model = *RegisterModel(*data.store, *data.blobs, dir_ / "tiny", "tiny", 1);
    const DatasetRecord dataset = *RegisterDataset(*data.store, *data.blobs, dir_ / "train.jsonl", "qa", 1);
    ASSERT_TRUE(data.store
                    ->CreateTask({.id = "t1", .type = "instruct", .model_hash = model.hash,
                                  .dataset_hash = dataset.hash,
                                  .columns = {.columns = {{"instruction", "instruction"}, {"output", "output"}}},
                                  .duration_s = 600, .pool_size = 3, .created_at_ms = opened_at,
                                  .updated_at_ms = opened_at})
                    .ok());
    ASSERT_TRUE(PrepareTask(*data.store, *data.store, *data.blobs, "t1", opened_at, 60'000).ok());
    float scale = 0.01f;
    for (const std::string& miner : miners) {
      ASSERT_TRUE(data.store->ClaimTask("t1", miner, "nonce", opened_at + 1000).ok());
      if (miner == miners[2]) continue;  // claims and never uploads
      SubmissionRecord submission{.task_id = "t1", .miner = miner, .receipt_id = "r-" + miner,
                                  .manifest = {.kind = common::CheckpointKind::kLoraAdapter, .files = {}},
                                  .manifest_digest = {}, .file_blobs = {}, .received_at_ms = opened_at + 2000};
      for (const auto& [name, content] : TinyLoraAdapter(scale, scale)) {
        submission.manifest.files.push_back({.path = name, .size_bytes = content.size(), .algorithm = {},
                                             .digest = common::ComputeDigest(common::DigestAlgorithm::kBlake2b256, content)});
        submission.file_blobs.push_back(data.blobs->Put(content)->hash);
      }
      submission.manifest_digest = common::ToHex(common::CheckpointManifestDigest(submission.manifest));
      ASSERT_TRUE(data.store->RecordSubmission(submission, opened_at + 2000).ok());
      scale *= 4;
    }
    ASSERT_TRUE(CloseOfferWindows(*data.store, *data.store, OfferOptions{}, opened_at + 60'000).ok());
    ASSERT_EQ(data.store->GetTask("t1")->status, TaskStatus::kTraining);
  }
  // The same state for a run nobody interrupts.
  std::filesystem::copy(dir_ / "data", dir_ / "uninterrupted", std::filesystem::copy_options::recursive);
  config_["evaluation"] = {{"gradients_path", GRADIENTS_CLI_PATH}, {"threads", 1}};
  config_["weights"] = {{"interval_ms", 1000}};
  config_["metrics"] = {{"listen", "127.0.0.1:0"}};
  const auto scored = [&](const std::filesystem::path& data_dir) {
    for (int i = 0; i < 1200; ++i) {
      DataDirectory data = std::move(*OpenDataDirectory(data_dir));
      if (data.store->GetTask("t1")->status == TaskStatus::kScored) return *data.store->ListEvaluations("t1");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ADD_FAILURE() << "not scored; log:\n" << Log();
    return std::vector<EvaluationRecord>{};
  };

  std::unique_ptr<testing::BackgroundProcess> validator = Start();
  for (int i = 0; i < 1200 && Log().find("evaluating the upload") == std::string::npos; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  validator->Signal(SIGKILL);  // while a child evaluates
  validator->WaitFor(std::chrono::seconds(20));
  validator = Start();
  const std::vector<EvaluationRecord> after_kill = scored(dir_ / "data");
  // Within a second or so a weight set counts the scored task: weights.json, Admin, the audit export.
  std::string winner;
  for (const EvaluationRecord& evaluation : after_kill) {
    if (evaluation.rank == 1) winner = evaluation.miner;
  }
  const nlohmann::json published = PublishedWeights();
  ASSERT_FALSE(published.empty()) << Log();
  ASSERT_EQ(published["weights"].size(), 1u);
  EXPECT_EQ(published["weights"][0]["miner"], winner);
  EXPECT_EQ(published["weights"][0]["weight"], 1.0);
  const std::string admin = "127.0.0.1:" + std::to_string(WaitForPort(*validator, "admin"));
  testing::ProcessResult current = testing::RunProcess({GRADIENTS_CLI_PATH, "weights", "--validator", admin});
  ASSERT_EQ(current.exit_code, 0) << current.err;
  EXPECT_EQ(nlohmann::json::parse(current.out)["weights"]["weights"][0]["weight"], 1.0);
  // Monitoring sees it too.
  const HttpAnswer metrics = HttpGet(WaitForPort(*validator, "metrics"), "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("gradients_tasks{status=\"scored\"} 1\n"), std::string::npos) << metrics.body;
  EXPECT_NE(metrics.body.find("gradients_evaluations_total{outcome=\"missing\"} 1\n"), std::string::npos)
      << metrics.body;
  EXPECT_EQ(HttpGet(WaitForPort(*validator, "metrics"), "/healthz").status, 200);
  testing::ProcessResult leaderboard =
      testing::RunProcess({GRADIENTS_CLI_PATH, "leaderboard", "--validator", admin, "--type", "instruct"});
  ASSERT_EQ(leaderboard.exit_code, 0) << leaderboard.err;
  const nlohmann::json ranking = nlohmann::json::parse(leaderboard.out)["entries"];
  ASSERT_EQ(ranking.size(), 3u) << leaderboard.out;
  EXPECT_EQ(ranking[0]["points"], 3.0);
  EXPECT_EQ(ranking[0]["firstPlaces"], 1);
  EXPECT_EQ(ranking[2]["points"], -1.0);
  testing::ProcessResult exported = testing::RunProcess(
      {GRADIENTS_CLI_PATH, "audit", "export", "--data-dir", (dir_ / "data").string(), "--out",
       (dir_ / "audit.jsonl").string()});
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  testing::ProcessResult recomputed = testing::RunProcess(
      {GRADIENTS_CLI_PATH, "weights", "recompute", "--audit", (dir_ / "audit.jsonl").string()});
  ASSERT_EQ(recomputed.exit_code, 0) << recomputed.err;
  EXPECT_GE(nlohmann::json::parse(recomputed.out)["recomputed"].get<int>(), 1);
  validator->Signal(SIGTERM);
  EXPECT_EQ(validator->WaitFor(std::chrono::seconds(20)), 0) << Log();

  config_["data_dir"] = (dir_ / "uninterrupted").string();
  validator = Start();
  const std::vector<EvaluationRecord> uninterrupted = scored(dir_ / "uninterrupted");
  validator->Signal(SIGTERM);
  EXPECT_EQ(validator->WaitFor(std::chrono::seconds(20)), 0) << Log();

  ASSERT_EQ(after_kill.size(), 3u);
  ASSERT_EQ(uninterrupted.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(after_kill[i].miner, uninterrupted[i].miner);
    EXPECT_EQ(after_kill[i].outcome, uninterrupted[i].outcome);
    EXPECT_EQ(after_kill[i].test_loss, uninterrupted[i].test_loss);  // bit for bit
    EXPECT_EQ(after_kill[i].rank, uninterrupted[i].rank);
    EXPECT_EQ(after_kill[i].points, uninterrupted[i].points);
  }
  std::map<std::string, EvaluationRecord> by_miner;
  for (const EvaluationRecord& evaluation : after_kill) by_miner[evaluation.miner] = evaluation;
  EXPECT_EQ(by_miner[miners[0]].outcome, EvaluationOutcome::kScored);
  EXPECT_EQ(by_miner[miners[2]].outcome, EvaluationOutcome::kMissing);
  EXPECT_EQ(by_miner[miners[2]].points, -1);
  EXPECT_EQ(by_miner[miners[0]].points + by_miner[miners[1]].points, 3);  // one of the two won
}

}  // namespace
}  // namespace gradients::validator
