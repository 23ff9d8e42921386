#include "validator/market/offer_board.h"

#include <gtest/gtest.h>

namespace gradients::validator {
namespace {

// A stream that remembers what it was sent.
struct RecordingSink : OfferSink {
  std::vector<std::string> offers;  // task ids
  std::optional<common::Status> ended;
  void Send(const Offer& offer) override { offers.push_back(offer.task_id); }
  void End(const common::Status& why) override { ended = why; }
};

constexpr int64_t kNow = 1'700'000'000'000;

Offer TaskOffer(const std::string& id, int64_t pool_size, int64_t parameters = 1000, const std::string& type = "instruct") {
  return Offer{.task_id = id, .type = type, .model_name = "tiny", .model_parameters = parameters,
               .model_bytes = 10, .training_bytes = 10, .training_rows = 1, .deadline_ms = kNow + 3'600'000,
               .respond_by_ms = kNow + 300'000, .max_training_tokens = 0, .pool_size = pool_size, .claimants = {}};
}

OfferCapacity Capacity(int64_t max_parameters = 1'000'000, int64_t concurrent = 1) {
  return OfferCapacity{.max_model_parameters = max_parameters, .task_types = {"instruct", "text"},
                       .max_concurrent_tasks = concurrent};
}

class Board : public ::testing::Test {
 protected:
  // Subscribes miners "m0".."m<n-1>"; their sinks are sinks_[i].
  void Subscribe(size_t n, OfferCapacity capacity = Capacity()) {
    for (size_t i = sinks_.size(); i < n; ++i) {
      sinks_.push_back(std::make_unique<RecordingSink>());
      ASSERT_TRUE(board_.Subscribe("m" + std::to_string(i), capacity, sinks_.back().get()).ok());
    }
  }
  std::set<size_t> Offered(const std::string& task) const {
    std::set<size_t> out;
    for (size_t i = 0; i < sinks_.size(); ++i) {
      if (std::count(sinks_[i]->offers.begin(), sinks_[i]->offers.end(), task) > 0) out.insert(i);
    }
    return out;
  }

  OfferBoard board_{OfferOptions{.window_ms = 300'000, .rounds = 3, .wave_interval_ms = 10'000, .recent_ms = 86'400'000},
                    /*seed=*/42};
  std::vector<std::unique_ptr<RecordingSink>> sinks_;
};

TEST_F(Board, MinersThatHaveNotCompetedRecentlyGetATaskFirstInWavesOfTwiceItsOpenPlaces) {
  Subscribe(6);
  // m0..m3 claimed a task an hour ago; m4 and m5 have not competed today.
  std::vector<MinerClaims> claims;
  for (int i = 0; i < 4; ++i) claims.push_back({.miner = "m" + std::to_string(i), .last_claim_at_ms = kNow - 3'600'000});
  board_.Update({TaskOffer("t1", 1)}, claims, kNow);
  EXPECT_EQ(Offered("t1"), (std::set<size_t>{4, 5}));
  board_.Update({TaskOffer("t1", 1)}, claims, kNow + 5'000);  // the next wave is not due yet
  EXPECT_EQ(Offered("t1").size(), 2u);
  board_.Update({TaskOffer("t1", 1)}, claims, kNow + 10'000);
  EXPECT_EQ(Offered("t1").size(), 4u);
  board_.Update({TaskOffer("t1", 1)}, claims, kNow + 20'000);
  EXPECT_EQ(Offered("t1").size(), 6u);
  for (const auto& sink : sinks_) EXPECT_EQ(sink->offers.size(), 1u);  // each once per window
}

TEST_F(Board, ADeclineHandsTheOfferToTheNextMinerAtOnce) {
  Subscribe(4);
  board_.Update({TaskOffer("t1", 1)}, {}, kNow);
  const std::set<size_t> first = Offered("t1");
  ASSERT_EQ(first.size(), 2u);
  board_.Declined("t1", "m" + std::to_string(*first.begin()));
  EXPECT_EQ(Offered("t1").size(), 3u);
}

TEST_F(Board, OnlyMinersATaskFitsAreOfferedIt) {
  Subscribe(1, Capacity(/*max_parameters=*/500));
  Subscribe(2, Capacity());
  sinks_.push_back(std::make_unique<RecordingSink>());
  ASSERT_TRUE(board_.Subscribe("m2", OfferCapacity{.max_model_parameters = 1'000'000, .task_types = {"chat"},
                                                   .max_concurrent_tasks = 1},
                               sinks_.back().get())
                  .ok());
  Subscribe(4);
  // m3 trains another task already, as many as it said it can.
  Offer claimed = TaskOffer("t1", 8);
  claimed.claimants = {"m1"};
  board_.Update({claimed}, {{.miner = "m3", .last_claim_at_ms = kNow, .active_claims = 1}}, kNow);
  EXPECT_TRUE(Offered("t1").empty());  // too big for m0, m1 claimed it, m2 trains chat only, m3 is busy
  Subscribe(5);
  EXPECT_EQ(Offered("t1"), (std::set<size_t>{4}));  // a late subscriber, once everyone in line had it
  // m3 finished its other task: it joins the line and gets the next wave.
  board_.Update({claimed}, {{.miner = "m3", .last_claim_at_ms = kNow, .active_claims = 0}}, kNow + 10'000);
  EXPECT_EQ(Offered("t1"), (std::set<size_t>{3, 4}));
}

TEST_F(Board, AMinerThatSubscribesAgainGetsWhatItWasOfferedAgain) {
  Subscribe(3);
  board_.Update({TaskOffer("t1", 1)}, {}, kNow);
  const std::set<size_t> first = Offered("t1");
  ASSERT_EQ(first.size(), 2u);
  const size_t restarted = *first.begin();
  RecordingSink again;
  ASSERT_TRUE(board_.Subscribe("m" + std::to_string(restarted), Capacity(), &again).ok());
  EXPECT_EQ(again.offers, std::vector<std::string>{"t1"});  // its old stream may have lost it
  // The one still waiting its turn does not jump the line by subscribing again.
  const size_t waiting = 3 - *first.begin() - *std::next(first.begin());
  RecordingSink waiting_again;
  ASSERT_TRUE(board_.Subscribe("m" + std::to_string(waiting), Capacity(), &waiting_again).ok());
  EXPECT_TRUE(waiting_again.offers.empty());
  board_.Update({TaskOffer("t1", 1)}, {}, kNow + 10'000);
  EXPECT_EQ(waiting_again.offers, std::vector<std::string>{"t1"});
}

TEST_F(Board, OnlyTheFirstDeclineOfAMinerThatWasOfferedTheTaskPassesItOn) {
  Subscribe(6);
  board_.Update({TaskOffer("t1", 1)}, {}, kNow);
  const std::set<size_t> first = Offered("t1");
  size_t outsider = 0;
  while (first.contains(outsider)) ++outsider;
  board_.Declined("t1", "m" + std::to_string(outsider));  // never offered it: nothing happens
  EXPECT_EQ(Offered("t1").size(), 2u);
  const std::string decliner = "m" + std::to_string(*first.begin());
  board_.Declined("t1", decliner);
  board_.Declined("t1", decliner);
  board_.Declined("t1", decliner);
  EXPECT_EQ(Offered("t1").size(), 3u);
}

TEST_F(Board, ANewWindowOffersTheTaskToEveryoneAgain) {
  Subscribe(2);
  Offer offer = TaskOffer("t1", 4);
  board_.Update({offer}, {}, kNow);
  EXPECT_EQ(Offered("t1").size(), 2u);
  board_.Update({offer}, {}, kNow + 20'000);
  for (const auto& sink : sinks_) EXPECT_EQ(sink->offers.size(), 1u);
  offer.respond_by_ms += 300'000;
  board_.Update({offer}, {}, kNow + 300'000);
  for (const auto& sink : sinks_) EXPECT_EQ(sink->offers.size(), 2u);
  // A closed offer is forgotten: nothing more is sent for it.
  board_.Update({}, {}, kNow + 400'000);
  Subscribe(3);
  EXPECT_TRUE(sinks_[2]->offers.empty());
}

TEST_F(Board, ANewerSubscriptionOfAMinerEndsItsOlderOne) {
  Subscribe(1);
  RecordingSink newer;
  ASSERT_TRUE(board_.Subscribe("m0", Capacity(), &newer).ok());
  ASSERT_TRUE(sinks_[0]->ended.has_value());
  EXPECT_EQ(sinks_[0]->ended->code(), common::StatusCode::kAborted);
  EXPECT_EQ(board_.connected(), 1u);
  board_.Update({TaskOffer("t1", 1)}, {}, kNow);
  EXPECT_TRUE(sinks_[0]->offers.empty());
  EXPECT_EQ(newer.offers, std::vector<std::string>{"t1"});
}

TEST_F(Board, StoppingEndsEveryStreamAndRefusesNewOnes) {
  Subscribe(2);
  board_.EndAll(common::Status::Unavailable("stopping"));
  for (const auto& sink : sinks_) EXPECT_EQ(sink->ended->code(), common::StatusCode::kUnavailable);
  RecordingSink late;
  EXPECT_EQ(board_.Subscribe("m9", Capacity(), &late).status().code(), common::StatusCode::kUnavailable);
  EXPECT_FALSE(late.ended.has_value());
  EXPECT_EQ(board_.connected(), 0u);
}

}  // namespace
}  // namespace gradients::validator
