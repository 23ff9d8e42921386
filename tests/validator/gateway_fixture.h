// A MinerGateway service on a real gRPC server on loopback over a real SQLite file, blob store and
// uploads directory, with the calls a miner makes, through the generated stub.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "common/checkpoint_manifest.h"
#include "common/protocol_envelopes.h"
#include "proto/checkpoint_messages.h"
#include "tests/support/temp_dir.h"
#include "tests/validator/scripted_miner.h"
#include "validator/market/checkpoint_uploads.h"
#include "validator/rpc/miner_gateway_service.h"
#include "validator/state/blob_store.h"
#include "validator/state/sqlite_store.h"

namespace gradients::validator {

class MinerGatewayFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service_);
    server_ = builder.BuildAndStart();
    ASSERT_GT(port, 0);
    stub_ = v1::MinerGateway::NewStub(
        grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
  }
  void TearDown() override {
    offers_.EndAll(common::Status::Unavailable("the test ends"));
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  // Every call carries a deadline, as every client's must.
  static std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return context;
  }
  grpc::Status GetChallenge(const std::string& key, v1::GetChallengeResponse* response) {
    v1::GetChallengeRequest request;
    request.set_miner_public_key(key);
    return stub_->GetChallenge(Context().get(), request, response);
  }
  // A session token for a new miner.
  std::string Session(const common::SigningKey& miner) {
    v1::GetChallengeResponse challenge;
    EXPECT_TRUE(GetChallenge(KeyBytes(miner), &challenge).ok());
    v1::AuthenticateResponse session;
    EXPECT_TRUE(stub_->Authenticate(Context().get(), Answer(challenge, miner), &session).ok());
    return session.session_token();
  }
  grpc::Status Respond(const std::string& token, const std::string& task, v1::OfferDecision decision,
                       v1::RespondToOfferResponse* response, v1::DeclineReason reason = v1::DECLINE_REASON_UNSPECIFIED) {
    std::unique_ptr<grpc::ClientContext> context = Context();
    if (!token.empty()) context->AddMetadata("gradients-session", token);
    v1::RespondToOfferRequest request;
    request.set_task_id(task);
    request.set_decision(decision);
    request.set_decline_reason(reason);
    return stub_->RespondToOffer(context.get(), request, response);
  }

  // Registers a model (config.json and weights) and a dataset as real blobs, and opens task `id`
  // for offers with its deadline an hour away; its training and hidden test splits are real blobs
  // too (train_blob_, test_blob_).
  void AddOfferingTask(const std::string& id, int64_t pool_size = 4) {
    const StoredBlob config = *blobs_.Put(R"({"model_type": "llama"})");
    const StoredBlob weights = *blobs_.Put(std::string(300'000, 'w'));
    model_hash_ = std::string(64, 'a');
    ASSERT_TRUE(store_->AddModel({.hash = model_hash_, .name = "tiny",
                                  .files = {{.path = "config.json", .bytes = static_cast<int64_t>(config.bytes),
                                             .blob = config.hash},
                                            {.path = "model.safetensors", .bytes = static_cast<int64_t>(weights.bytes),
                                             .blob = weights.hash}},
                                  .added_at_ms = 1})
                    .ok());
    model_blobs_ = {config.hash, weights.hash};
    ASSERT_TRUE(store_->AddDataset({.hash = std::string(64, 'd'), .name = "qa", .format = "jsonl", .bytes = 100,
                                    .split_seed = "seed", .added_at_ms = 1})
                    .ok());
    ASSERT_TRUE(store_->CreateTask({.id = id, .type = "instruct", .model_hash = model_hash_,
                                    .dataset_hash = std::string(64, 'd'), .columns = {}, .duration_s = 3600,
                                    .pool_size = pool_size, .created_at_ms = now_ms_, .updated_at_ms = now_ms_})
                    .ok());
    ASSERT_TRUE(store_->TransitionTask(id, TaskStatus::kPending, TaskStatus::kPreparing, "", now_ms_).ok());
    std::string train;
    for (int row = 0; row < 100'000; ++row) train += "{\"row\": " + std::to_string(row) + "}\n";
    const StoredBlob train_blob = *blobs_.Put(train + id);
    const StoredBlob test_blob = *blobs_.Put("{\"hidden\": 1}\n" + id);
    train_blob_ = train_blob.hash;
    test_blob_ = test_blob.hash;
    ASSERT_TRUE(store_->RecordSplit(id, {.train_blob = train_blob.hash, .test_blob = test_blob.hash,
                                         .train_rows = 100'000, .test_rows = 1,
                                         .train_bytes = static_cast<int64_t>(train_blob.bytes)})
                    .ok());
    ASSERT_TRUE(store_->OpenOffers(id, now_ms_ + 3'600'000, now_ms_ + 600'000, "", now_ms_).ok());
  }

  TestMiner NewMiner(const std::string& task = "") {
    TestMiner miner;
    miner.token = Session(miner.key);
    if (!task.empty()) {
      v1::RespondToOfferResponse response;
      grpc::Status status = Respond(miner.token, task, v1::OFFER_DECISION_ACCEPT, &response);
      EXPECT_TRUE(status.ok()) << status.error_message();
      miner.claim_nonce = response.claim().claim_nonce();
    }
    return miner;
  }
  std::unique_ptr<grpc::ClientContext> SessionContext(const TestMiner& miner) {
    std::unique_ptr<grpc::ClientContext> context = Context();
    context->AddMetadata("gradients-session", miner.token);
    return context;
  }

  // Streams `messages`, half-closes and returns the validator's answer.
  grpc::Status Upload(const TestMiner& miner, const std::vector<v1::UploadMessage>& messages,
                      v1::UploadReceipt* receipt) {
    std::unique_ptr<grpc::ClientContext> context = SessionContext(miner);
    std::unique_ptr<grpc::ClientWriter<v1::UploadMessage>> writer = stub_->UploadCheckpoint(context.get(), receipt);
    for (const v1::UploadMessage& message : messages) {
      if (!writer->Write(message)) break;  // the validator answered already
    }
    writer->WritesDone();
    return writer->Finish();
  }
  grpc::Status UploadStatus(const TestMiner& miner, const std::string& task, v1::GetUploadStatusResponse* response) {
    v1::GetUploadStatusRequest request;
    request.set_task_id(task);
    return stub_->GetUploadStatus(SessionContext(miner).get(), request, response);
  }

  testing::TempDir dir_;
  std::atomic<int64_t> now_ms_{1'700'000'000'000};
  MinerAuthenticator auth_{MinerAuthOptions{.validator_id = "validator-under-test"}};
  std::unique_ptr<SqliteStore> store_ = std::move(*SqliteStore::Open(dir_ / "state.db"));
  BlobStore blobs_ = std::move(*BlobStore::Open(dir_ / "blobs"));
  std::unique_ptr<CheckpointUploads> uploads_ = std::move(
      *CheckpointUploads::Open(*store_, *store_, *store_, *store_, blobs_, dir_ / "uploads", "validator-under-test",
                               UploadOptions{.max_chunk_bytes = 1 << 20,
                                             .max_bytes_per_model_byte = 3.0,
                                             .max_bytes_allowance = 4 << 20,
                                             .sync_interval_bytes = 1 << 20},
                               [this] { return now_ms_.load(); }));
  OfferBoard offers_{OfferOptions{.window_ms = 600'000, .rounds = 3, .wave_interval_ms = 10'000,
                                  .recent_ms = 86'400'000}};
  MinerGatewayService service_{auth_, *store_, *store_, *store_, *store_, *store_,
                               blobs_, *uploads_, offers_, [this] { return now_ms_.load(); }};
  std::unique_ptr<grpc::Server> server_;
  std::string model_hash_, train_blob_, test_blob_;
  std::vector<std::string> model_blobs_;
  std::unique_ptr<v1::MinerGateway::Stub> stub_;
};

}  // namespace gradients::validator
