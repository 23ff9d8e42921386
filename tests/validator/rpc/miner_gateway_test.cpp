// The MinerGateway service on a real gRPC server on loopback, called through the generated stub as
// a miner would.
#include "validator/rpc/miner_gateway_service.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "tests/validator/gateway_fixture.h"
#include "validator/market/offer_rounds.h"

namespace gradients::validator {
namespace {

using MinerGateway = MinerGatewayFixture;

TEST_F(MinerGateway, AMinerThatSignsItsChallengeGetsASessionToken) {
  const common::SigningKey miner = common::SigningKey::Generate();
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

  const common::SigningKey miner = common::SigningKey::Generate();
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
  const common::SigningKey miner = common::SigningKey::Generate();
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
                                    .dataset_hash = std::string(64, 'd'), .columns = {}, .duration_s = 3600,
                                    .pool_size = 2, .created_at_ms = now_ms_, .updated_at_ms = now_ms_})
                    .ok());
    ASSERT_TRUE(store_->TransitionTask("t1", TaskStatus::kPending, TaskStatus::kPreparing, "", now_ms_).ok());
    ASSERT_TRUE(store_->RecordSplit("t1", {.train_blob = std::string(64, 'e'), .test_blob = std::string(64, 'f'),
                                             .train_rows = 90, .test_rows = 10, .train_bytes = 900}).ok());
    ASSERT_TRUE(store_->OpenOffers("t1", now_ms_ + 3'600'000, now_ms_ + 600'000, "", now_ms_).ok());
  }
};

TEST_F(Offers, AnAcceptGivesAClaimWithTheTaskAndTheSameClaimAgain) {
  const std::string token = Session(common::SigningKey::Generate());
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
  ASSERT_TRUE(Respond(Session(common::SigningKey::Generate()), "t1", v1::OFFER_DECISION_ACCEPT, &response).ok());
  EXPECT_EQ(store_->GetTask("t1")->status, TaskStatus::kOffering);
  ASSERT_TRUE(Respond(Session(common::SigningKey::Generate()), "t1", v1::OFFER_DECISION_ACCEPT, &response).ok());
  EXPECT_EQ(store_->GetTask("t1")->status, TaskStatus::kTraining);
  grpc::Status late = Respond(Session(common::SigningKey::Generate()), "t1", v1::OFFER_DECISION_ACCEPT, &response);
  EXPECT_EQ(late.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(late.error_message(), "task t1 is training: its offers are closed");
}

TEST_F(Offers, RefusalsNameTheReason) {
  v1::RespondToOfferResponse response;
  EXPECT_EQ(Respond("", "t1", v1::OFFER_DECISION_ACCEPT, &response).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Respond("forged", "t1", v1::OFFER_DECISION_ACCEPT, &response).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  const std::string token = Session(common::SigningKey::Generate());
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

// SubscribeOffers: a fixture with an offering task.
class OfferStreams : public MinerGatewayFixture {
 protected:
  void SetUp() override {
    MinerGatewayFixture::SetUp();
    AddOfferingTask("t1", 2);
  }
  static v1::SubscribeOffersRequest Subscription() {
    v1::SubscribeOffersRequest request;
    request.mutable_capacity()->set_max_model_parameters(1'000'000'000);
    request.mutable_capacity()->add_task_types(v1::TASK_TYPE_INSTRUCT);
    request.mutable_capacity()->set_device(v1::DEVICE_KIND_CPU);
    request.mutable_capacity()->set_device_count(1);
    request.mutable_capacity()->set_max_concurrent_tasks(1);
    return request;
  }
  // Waits until the board holds `count` streams (a subscription reaches it after the call starts).
  bool AwaitConnected(size_t count) {
    for (int i = 0; i < 500 && offers_.connected() != count; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return offers_.connected() == count;
  }
  void PublishOffers() {
    common::Result<std::vector<Offer>> open = ListOpenOffers(*store_, *store_, *store_, now_ms_);
    ASSERT_TRUE(open.ok());
    offers_.Update(*open, {}, now_ms_);
  }
};

TEST_F(OfferStreams, ASubscribedMinerReceivesTheOpenOfferWithWhatItNeedsToDecide) {
  const TestMiner miner = NewMiner();
  std::unique_ptr<grpc::ClientContext> context = SessionContext(miner);
  std::unique_ptr<grpc::ClientReader<v1::TaskOffer>> stream = stub_->SubscribeOffers(context.get(), Subscription());
  ASSERT_TRUE(AwaitConnected(1));
  PublishOffers();
  v1::TaskOffer offer;
  ASSERT_TRUE(stream->Read(&offer));
  EXPECT_EQ(offer.task_id(), "t1");
  EXPECT_EQ(offer.type(), v1::TASK_TYPE_INSTRUCT);
  EXPECT_EQ(offer.base_model_name(), "tiny");
  EXPECT_EQ(offer.base_model_size_bytes(), 300'000u + std::string(R"({"model_type": "llama"})").size());
  EXPECT_EQ(offer.training_rows(), 100'000u);
  EXPECT_GT(offer.training_split_size_bytes(), 1'000'000u);
  EXPECT_EQ(offer.deadline().seconds(), 1'700'000'000 + 3600);
  EXPECT_EQ(offer.respond_by().seconds(), 1'700'000'000 + 600);

  // The same miner subscribing again (a restart, say) ends the older stream.
  std::unique_ptr<grpc::ClientContext> again = SessionContext(miner);
  std::unique_ptr<grpc::ClientReader<v1::TaskOffer>> newer = stub_->SubscribeOffers(again.get(), Subscription());
  EXPECT_FALSE(stream->Read(&offer));
  grpc::Status ended = stream->Finish();
  EXPECT_EQ(ended.error_code(), grpc::StatusCode::ABORTED);
  EXPECT_EQ(ended.error_message(), "a newer subscription of this miner replaced this one");
  ASSERT_TRUE(newer->Read(&offer));  // the offer the older stream had, again
  EXPECT_EQ(offer.task_id(), "t1");
  ASSERT_TRUE(AwaitConnected(1));
  again->TryCancel();
  EXPECT_TRUE(AwaitConnected(0));  // a cancelled stream leaves the board
}

TEST_F(OfferStreams, ASubscriptionWithoutASessionOrWithABadCapacityIsRefused) {
  v1::TaskOffer offer;
  std::unique_ptr<grpc::ClientContext> anonymous = Context();
  auto refused = stub_->SubscribeOffers(anonymous.get(), Subscription());
  EXPECT_FALSE(refused->Read(&offer));
  EXPECT_EQ(refused->Finish().error_code(), grpc::StatusCode::UNAUTHENTICATED);

  const TestMiner miner = NewMiner();
  v1::SubscribeOffersRequest twice = Subscription();
  twice.mutable_capacity()->add_task_types(v1::TASK_TYPE_INSTRUCT);
  std::unique_ptr<grpc::ClientContext> context = SessionContext(miner);
  auto bad = stub_->SubscribeOffers(context.get(), twice);
  EXPECT_FALSE(bad->Read(&offer));
  grpc::Status status = bad->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "capacity.task_types: instruct listed twice");
  EXPECT_EQ(offers_.connected(), 0u);
}

TEST_F(OfferStreams, ADeclinePassesTheOfferToTheNextMinerInLine) {
  std::vector<TestMiner> miners;
  std::vector<std::unique_ptr<grpc::ClientContext>> contexts;
  std::vector<std::unique_ptr<grpc::ClientReader<v1::TaskOffer>>> streams;
  for (int i = 0; i < 5; ++i) {
    miners.push_back(NewMiner());
    contexts.push_back(SessionContext(miners.back()));
    streams.push_back(stub_->SubscribeOffers(contexts.back().get(), Subscription()));
    ASSERT_TRUE(AwaitConnected(miners.size()));
  }
  // Each stream is read on its own thread; received[i] turns true when miner i got the offer.
  std::vector<std::atomic<bool>> received(miners.size());
  std::vector<std::thread> readers;
  for (size_t i = 0; i < streams.size(); ++i) {
    readers.emplace_back([&, i] {
      v1::TaskOffer offer;
      if (streams[i]->Read(&offer) && offer.task_id() == "t1") received[i] = true;
    });
  }
  const auto count = [&] { return std::count_if(received.begin(), received.end(), [](auto& r) { return r.load(); }); };
  const auto await_count = [&](long expected) {
    for (int i = 0; i < 500 && count() < expected; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return count();
  };
  PublishOffers();  // a pool of 2: the first wave reaches 4 of the 5
  EXPECT_EQ(await_count(4), 4);
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(count(), 4);  // the fifth waits for its turn...
  const size_t decliner = static_cast<size_t>(std::find(received.begin(), received.end(), true) - received.begin());
  v1::RespondToOfferResponse response;
  ASSERT_TRUE(Respond(miners[decliner].token, "t1", v1::OFFER_DECISION_DECLINE, &response, v1::DECLINE_REASON_BUSY).ok());
  EXPECT_EQ(await_count(5), 5);  // ...which comes when a miner declines
  for (auto& context : contexts) context->TryCancel();
  for (std::thread& reader : readers) reader.join();
  EXPECT_TRUE(AwaitConnected(0));
}

}  // namespace
}  // namespace gradients::validator
