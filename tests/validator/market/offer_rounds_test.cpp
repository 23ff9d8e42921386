#include "validator/market/offer_rounds.h"

#include <gtest/gtest.h>

#include "tests/support/temp_dir.h"
#include "validator/state/sqlite_store.h"

namespace gradients::validator {
namespace {

constexpr int64_t kOpenedAt = 1'000'000;
constexpr int64_t kWindow = 300'000;

class OfferRounds : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(store_->AddModel({.hash = "m", .name = "tiny",
                                  .files = {{.path = "model.safetensors", .bytes = 123, .blob = "b"}},
                                  .parameters = 4567, .added_at_ms = 1})
                    .ok());
    ASSERT_TRUE(store_->AddDataset({.hash = "d", .name = "qa", .format = "jsonl", .bytes = 10, .split_seed = "s",
                                    .added_at_ms = 1})
                    .ok());
  }
  // A task offering since kOpenedAt: 60 minutes of training, `min_pool` of `pool` miners needed.
  void Offering(const std::string& id, int64_t min_pool, int64_t pool) {
    ASSERT_TRUE(store_->CreateTask({.id = id, .type = "instruct", .model_hash = "m", .dataset_hash = "d",
                                    .columns = {}, .duration_s = 3600, .pool_size = pool, .min_pool_size = min_pool,
                                    .created_at_ms = 1, .updated_at_ms = 1})
                    .ok());
    ASSERT_TRUE(store_->TransitionTask(id, TaskStatus::kPending, TaskStatus::kPreparing, "", 2).ok());
    ASSERT_TRUE(store_->RecordSplit(id, {.train_blob = "train", .test_blob = "test", .train_rows = 9, .test_rows = 1,
                                         .train_bytes = 900})
                    .ok());
    ASSERT_TRUE(store_->OpenOffers(id, kOpenedAt + 3'600'000, kOpenedAt + kWindow, "", kOpenedAt).ok());
  }
  void Claim(const std::string& id, const std::string& miner, int64_t at_ms = kOpenedAt + 1000) {
    ASSERT_TRUE(store_->ClaimTask(id, miner, "nonce-" + miner, at_ms).ok());
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteStore> store_ = std::move(*SqliteStore::Open(dir_ / "state.db"));
  OfferOptions options_{.window_ms = kWindow, .rounds = 2, .wave_interval_ms = 10'000, .recent_ms = 86'400'000};
};

TEST_F(OfferRounds, OpenOffersAreListedAsMinersSeeThemWithTheirClaimants) {
  Offering("t1", 1, 3);
  Claim("t1", "miner-a");
  common::Result<std::vector<Offer>> offers = ListOpenOffers(*store_, *store_, *store_, kOpenedAt + 2000);
  ASSERT_TRUE(offers.ok()) << offers.status().message();
  ASSERT_EQ(offers->size(), 1u);
  const Offer& offer = (*offers)[0];
  EXPECT_EQ(offer.model_parameters, 4567);
  EXPECT_EQ(offer.model_bytes, 123);
  EXPECT_EQ(offer.training_bytes, 900);
  EXPECT_EQ(offer.respond_by_ms, kOpenedAt + kWindow);
  EXPECT_EQ(offer.deadline_ms, kOpenedAt + 3'600'000);
  EXPECT_EQ(offer.claimants, std::set<std::string>{"miner-a"});
  EXPECT_TRUE(ListOpenOffers(*store_, *store_, *store_, kOpenedAt + kWindow)->empty());  // the window closed
}

TEST_F(OfferRounds, AWindowThatClosesWithEnoughMinersStartsTraining) {
  Offering("t1", 2, 3);
  Claim("t1", "miner-a");
  Claim("t1", "miner-b");
  ASSERT_TRUE(CloseOfferWindows(*store_, *store_, options_, kOpenedAt + kWindow - 1).ok());
  EXPECT_EQ(store_->GetTask("t1")->status, TaskStatus::kOffering);  // not closed yet
  ASSERT_TRUE(CloseOfferWindows(*store_, *store_, options_, kOpenedAt + kWindow).ok());
  const TaskRecord task = *store_->GetTask("t1");
  EXPECT_EQ(task.status, TaskStatus::kTraining);
  EXPECT_EQ(task.deadline_ms, kOpenedAt + 3'600'000);
  EXPECT_EQ(store_->TaskHistory("t1")->back().reason, "the offer window closed; 2 miners train");
  // A late accept is refused.
  EXPECT_EQ(store_->ClaimTask("t1", "miner-c", "n", kOpenedAt + kWindow + 1).status().code(),
            common::StatusCode::kFailedPrecondition);
}

TEST_F(OfferRounds, ATaskNobodyTookIsOfferedAgainWithItsWholeTrainingTimeThenFails) {
  Offering("t1", 1, 3);
  EXPECT_EQ(store_->ClaimTask("t1", "late", "n", kOpenedAt + kWindow).status().message(),
            "task t1: its offer window has closed");
  const int64_t closed_at = kOpenedAt + kWindow + 500;
  ASSERT_TRUE(CloseOfferWindows(*store_, *store_, options_, closed_at).ok());
  TaskRecord task = *store_->GetTask("t1");
  EXPECT_EQ(task.status, TaskStatus::kOffering);
  EXPECT_EQ(task.offer_rounds, 2);
  EXPECT_EQ(task.offer_closes_at_ms, closed_at + kWindow);
  EXPECT_EQ(task.deadline_ms, closed_at + 3'600'000);
  EXPECT_EQ(store_->TaskHistory("t1")->back().reason,
            "offered again (round 2 of 2): 0 of the 1 miners needed accepted");

  ASSERT_TRUE(CloseOfferWindows(*store_, *store_, options_, closed_at + kWindow).ok());
  task = *store_->GetTask("t1");
  EXPECT_EQ(task.status, TaskStatus::kFailed);
  EXPECT_EQ(task.failure_reason, "only 0 of the 1 miners needed accepted in 2 offer windows");
}

TEST_F(OfferRounds, ATaskShortOfItsMinimumKeepsTheDeadlineItsClaimantsHold) {
  Offering("t1", 3, 4);
  Claim("t1", "miner-a");
  ASSERT_TRUE(CloseOfferWindows(*store_, *store_, options_, kOpenedAt + kWindow).ok());
  const TaskRecord task = *store_->GetTask("t1");
  EXPECT_EQ(task.status, TaskStatus::kOffering);
  EXPECT_EQ(task.deadline_ms, kOpenedAt + 3'600'000);
  EXPECT_EQ(task.offer_closes_at_ms, kOpenedAt + 2 * kWindow);
}

}  // namespace
}  // namespace gradients::validator
