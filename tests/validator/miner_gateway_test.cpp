// The MinerGateway service on a real gRPC server on loopback, called through the generated stub as
// a miner would.
#include "validator/miner_gateway_service.h"

#include <atomic>
#include <chrono>
#include <memory>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"
#include "validator/sqlite_store.h"

namespace gradients {
namespace {

class MinerGateway : public ::testing::Test {
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
  void TearDown() override { server_->Shutdown(); }

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
  static std::string KeyBytes(const SigningKey& key) {
    return std::string(reinterpret_cast<const char*>(key.public_key().bytes.data()), key.public_key().bytes.size());
  }
  // The miner's answer to a challenge, on the wire.
  static v1::AuthenticateRequest Answer(const v1::GetChallengeResponse& challenge, const SigningKey& key) {
    const std::string& nonce = challenge.nonce();
    const SignedEnvelope signed_envelope = *SignEnvelope(
        AuthEnvelope(challenge.validator_id(), key.public_key(),
                     std::span(reinterpret_cast<const uint8_t*>(nonce.data()), nonce.size())),
        key);
    v1::AuthenticateRequest request;
    request.mutable_proof()->set_encoded(*EncodeEnvelopeBody(signed_envelope.body));
    request.mutable_proof()->set_signer_public_key(KeyBytes(key));
    request.mutable_proof()->set_signature(
        std::string(reinterpret_cast<const char*>(signed_envelope.signature.data()), signed_envelope.signature.size()));
    request.set_client_version("gradients-miner/test");
    return request;
  }

  testing::TempDir dir_;
  std::atomic<int64_t> now_ms_{1'700'000'000'000};
  MinerAuthenticator auth_{MinerAuthOptions{.validator_id = "validator-under-test"}};
  std::unique_ptr<SqliteStore> store_ = std::move(*SqliteStore::Open(dir_ / "state.db"));
  MinerGatewayService service_{auth_, *store_, [this] { return now_ms_.load(); }};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<v1::MinerGateway::Stub> stub_;
};

TEST_F(MinerGateway, AMinerThatSignsItsChallengeGetsASessionToken) {
  const SigningKey miner = SigningKey::Generate();
  v1::GetChallengeResponse challenge;
  ASSERT_TRUE(GetChallenge(KeyBytes(miner), &challenge).ok());
  EXPECT_EQ(challenge.nonce().size(), 32u);
  EXPECT_EQ(challenge.validator_id(), "validator-under-test");
  EXPECT_EQ(challenge.expires_at().seconds(), 1'700'000'060);

  v1::AuthenticateResponse session;
  grpc::Status status = stub_->Authenticate(Context().get(), Answer(challenge, miner), &session);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(*auth_.SessionMiner(session.session_token(), now_ms_), miner.public_key());
  EXPECT_EQ(session.expires_at().seconds(), 1'700'000'000 + 24 * 3600);

  // The same answer again, as an eavesdropper would send it: refused.
  v1::AuthenticateResponse replayed;
  status = stub_->Authenticate(Context().get(), Answer(challenge, miner), &replayed);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(status.error_message(), "unknown, used or expired nonce");
}

TEST_F(MinerGateway, MalformedRequestsAreInvalidArgumentsNamingTheField) {
  v1::GetChallengeResponse challenge;
  grpc::Status short_key = GetChallenge(std::string(31, 'k'), &challenge);
  EXPECT_EQ(short_key.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(short_key.error_message().starts_with("miner_public_key: ")) << short_key.error_message();

  const SigningKey miner = SigningKey::Generate();
  ASSERT_TRUE(GetChallenge(KeyBytes(miner), &challenge).ok());
  v1::AuthenticateRequest garbage = Answer(challenge, miner);
  garbage.mutable_proof()->set_encoded("not an envelope");
  v1::AuthenticateResponse session;
  grpc::Status status = stub_->Authenticate(Context().get(), garbage, &session);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(status.error_message().starts_with("proof: envelope: ")) << status.error_message();

  v1::AuthenticateRequest oversized = Answer(challenge, miner);
  oversized.mutable_proof()->set_encoded(std::string(5000, 'x'));
  status = stub_->Authenticate(Context().get(), oversized, &session);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::AuthenticateRequest short_signature = Answer(challenge, miner);
  short_signature.mutable_proof()->set_signature("sig");
  status = stub_->Authenticate(Context().get(), short_signature, &session);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "proof: signature: expected 64 bytes, got 3");

  // None of these spent the nonce: the proper answer still works.
  EXPECT_TRUE(stub_->Authenticate(Context().get(), Answer(challenge, miner), &session).ok());
}

TEST_F(MinerGateway, AnAnswerAfterTheChallengeExpiredIsRefused) {
  const SigningKey miner = SigningKey::Generate();
  v1::GetChallengeResponse challenge;
  ASSERT_TRUE(GetChallenge(KeyBytes(miner), &challenge).ok());
  now_ms_ += 60'000;
  v1::AuthenticateResponse session;
  EXPECT_EQ(stub_->Authenticate(Context().get(), Answer(challenge, miner), &session).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
}

// Offers: a fixture with an offering task and an authenticated miner.
class Offers : public MinerGateway {
 protected:
  void SetUp() override {
    MinerGateway::SetUp();
    ASSERT_TRUE(store_->AddModel({.hash = std::string(64, 'a'), .name = "tiny",
                                  .files = {{.path = "config.json", .bytes = 10, .blob = std::string(64, 'b')}},
                                  .added_at_ms = 1})
                    .ok());
    ASSERT_TRUE(store_->AddDataset({.hash = std::string(64, 'd'), .name = "qa", .format = "jsonl", .bytes = 100,
                                    .split_seed = "seed", .added_at_ms = 1})
                    .ok());
    ASSERT_TRUE(store_->CreateTask({.id = "t1", .type = "instruct", .model_hash = std::string(64, 'a'),
                                    .dataset_hash = std::string(64, 'd'), .columns_json = "{}", .minutes = 60,
                                    .pool_size = 2, .created_at_ms = now_ms_, .updated_at_ms = now_ms_})
                    .ok());
    ASSERT_TRUE(store_->TransitionTask("t1", TaskStatus::kPending, TaskStatus::kPreparing, "", now_ms_).ok());
    ASSERT_TRUE(store_->RecordSplit("t1", std::string(64, 'e'), std::string(64, 'f'), 90, 10).ok());
    ASSERT_TRUE(store_->OpenOffers("t1", now_ms_ + 3'600'000, "", now_ms_).ok());
  }
  // A session token for a new miner.
  std::string Session(const SigningKey& miner) {
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
};

TEST_F(Offers, AnAcceptGivesAClaimWithTheTaskAndTheSameClaimAgain) {
  const std::string token = Session(SigningKey::Generate());
  v1::RespondToOfferResponse first, again;
  grpc::Status status = Respond(token, "t1", v1::OFFER_DECISION_ACCEPT, &first);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(first.claim().task_id(), "t1");
  EXPECT_EQ(first.claim().claim_nonce().size(), 32u);
  EXPECT_EQ(first.claim().deadline().seconds(), 1'700'000'000 + 3600);
  EXPECT_EQ(first.claim().task().training_rows(), 90u);
  EXPECT_EQ(first.claim().task().training_split().digest().value(), std::string(32, '\xee'));
  // A miner that restarted and accepts again loses nothing: the same claim.
  ASSERT_TRUE(Respond(token, "t1", v1::OFFER_DECISION_ACCEPT, &again).ok());
  EXPECT_EQ(again.claim().claim_nonce(), first.claim().claim_nonce());
  EXPECT_EQ(store_->ListClaims("t1")->size(), 1u);
}

TEST_F(Offers, TheClaimThatFillsThePoolStartsTrainingAndClosesTheOffer) {
  v1::RespondToOfferResponse response;
  ASSERT_TRUE(Respond(Session(SigningKey::Generate()), "t1", v1::OFFER_DECISION_ACCEPT, &response).ok());
  EXPECT_EQ(store_->GetTask("t1")->status, TaskStatus::kOffering);
  ASSERT_TRUE(Respond(Session(SigningKey::Generate()), "t1", v1::OFFER_DECISION_ACCEPT, &response).ok());
  EXPECT_EQ(store_->GetTask("t1")->status, TaskStatus::kTraining);
  grpc::Status late = Respond(Session(SigningKey::Generate()), "t1", v1::OFFER_DECISION_ACCEPT, &response);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(late.error_message(), "task t1 is training: its offers are closed");
}

TEST_F(Offers, RefusalsNameTheReason) {
  v1::RespondToOfferResponse response;
  EXPECT_EQ(Respond("", "t1", v1::OFFER_DECISION_ACCEPT, &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Respond("forged", "t1", v1::OFFER_DECISION_ACCEPT, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  const std::string token = Session(SigningKey::Generate());
  EXPECT_EQ(Respond(token, "nope", v1::OFFER_DECISION_ACCEPT, &response).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Respond(token, "t1", v1::OFFER_DECISION_UNSPECIFIED, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Respond(token, "t1", v1::OFFER_DECISION_DECLINE, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);  // a decline needs its reason
  EXPECT_TRUE(Respond(token, "t1", v1::OFFER_DECISION_DECLINE, &response, v1::DECLINE_REASON_BUSY).ok());
  EXPECT_FALSE(response.has_claim());
  now_ms_ += 3'600'000;  // the deadline
  grpc::Status expired = Respond(token, "t1", v1::OFFER_DECISION_ACCEPT, &response);
  EXPECT_EQ(expired.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(expired.error_message(), "task t1: its deadline has passed");
}

}  // namespace
}  // namespace gradients
