#include "miner/offer_admission.h"

#include <gtest/gtest.h>

namespace gradients::miner {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

// A 1B-parameter instruct task (2 GB of weights, 4 MB of training data) due in `minutes`.
v1::TaskOffer Offer(int64_t minutes) {
  v1::TaskOffer offer;
  offer.set_task_id("t1");
  offer.set_type(v1::TASK_TYPE_INSTRUCT);
  offer.set_base_model_parameters(1'000'000'000);
  offer.set_base_model_size_bytes(2'000'000'000);
  offer.set_training_split_size_bytes(4'000'000);
  offer.set_training_rows(10'000);
  const int64_t deadline_ms = kNow + minutes * 60'000;
  offer.mutable_deadline()->set_seconds(deadline_ms / 1000);
  return offer;
}

// 1M tokens of 6 x 1e9 FLOPs at 1e14 FLOP/s: 60 s of training.
const ThroughputEstimate kThroughput{
    .flops_per_second = 1e14, .fetch_bytes_per_second = 100e6, .upload_bytes_per_second = 10e6};

TEST(OfferAdmission, RefusesWhatTheMinerCannotTrainWithTheReasonInOrder) {
  MinerCapacity capacity{.max_model_parameters = 2'000'000'000, .max_concurrent_tasks = 2, .task_types = {"chat"}};
  Admission type = AdmitOffer(Offer(60), capacity, 0, false, kThroughput, {}, kNow);
  EXPECT_EQ(type.decline, v1::DECLINE_REASON_UNSUPPORTED_TASK_TYPE);
  EXPECT_EQ(type.detail, "this miner does not train instruct tasks");

  capacity.task_types = {"instruct"};
  capacity.max_model_parameters = 500'000'000;
  Admission big = AdmitOffer(Offer(60), capacity, 0, false, kThroughput, {}, kNow);
  EXPECT_EQ(big.decline, v1::DECLINE_REASON_INSUFFICIENT_CAPACITY);
  EXPECT_EQ(big.detail, "the base model has 1000000000 parameters, more than this miner's 500000000");

  capacity.max_model_parameters = 2'000'000'000;
  Admission busy = AdmitOffer(Offer(60), capacity, 2, false, kThroughput, {}, kNow);
  EXPECT_EQ(busy.decline, v1::DECLINE_REASON_BUSY);
  EXPECT_TRUE(AdmitOffer(Offer(60), capacity, 1, false, kThroughput, {}, kNow).accepted());

  Admission unmeasured = AdmitOffer(Offer(60), capacity, 0, false, ThroughputEstimate{}, {}, kNow);
  EXPECT_EQ(unmeasured.decline, v1::DECLINE_REASON_OTHER);
}

TEST(OfferAdmission, TakesATaskOnlyWhenFetchTrainingAndUploadFitBeforeTheDeadlineWithAMargin) {
  const MinerCapacity capacity{};
  // Fetch 2.004 GB at 100 MB/s: 21 s (rounded up); training 60 s; upload 5% of 2 GB at 10 MB/s: 10 s.
  Admission roomy = AdmitOffer(Offer(10), capacity, 0, false, kThroughput, {}, kNow);
  EXPECT_TRUE(roomy.accepted()) << roomy.detail;
  EXPECT_EQ(roomy.estimated_ms, 20'040 + 60'000 + 10'000);

  // Three minutes leave 180 - 18 - 60 = 102 s: 90 s fit.
  EXPECT_TRUE(AdmitOffer(Offer(3), capacity, 0, false, kThroughput, {}, kNow).accepted());
  // Two leave 120 - 12 - 60 = 48 s: they do not.
  Admission tight = AdmitOffer(Offer(2), capacity, 0, false, kThroughput, {}, kNow);
  EXPECT_EQ(tight.decline, v1::DECLINE_REASON_NOT_ENOUGH_TIME);
  EXPECT_EQ(
      tight.detail,
      "needs about 90 s (fetch 20, training 60, upload 10) and has 48 s of the 120 s left after the safety margin");
  // With the model on disk already and a token budget of a quarter of the data, 2 minutes do.
  v1::TaskOffer budgeted = Offer(2);
  budgeted.set_max_training_tokens(250'000);
  Admission cached = AdmitOffer(budgeted, capacity, 0, true, kThroughput, {}, kNow);
  EXPECT_TRUE(cached.accepted()) << cached.detail;
  EXPECT_EQ(cached.estimated_ms, 40 + 15'000 + 10'000);
  // A deadline already past: nothing fits.
  EXPECT_EQ(AdmitOffer(Offer(-1), capacity, 0, true, kThroughput, {}, kNow).decline,
            v1::DECLINE_REASON_NOT_ENOUGH_TIME);
}

}  // namespace
}  // namespace gradients::miner
