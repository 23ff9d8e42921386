// The miner's side of SubscribeOffers (issue 6, Offers): it declares its capacity, answers every
// offer with OfferAdmission's decision (a decline carries its reason and detail, which the
// validator records), hands each claim it wins to the jobs, and subscribes again with backoff
// whenever the stream ends (the validator restarted, the network failed, the session expired).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "common/clock.h"
#include "miner/job_claim.h"
#include "miner/miner_options.h"
#include "miner/offer_admission.h"
#include "miner/validator_connection.h"

namespace gradients::miner {

struct OfferLoopHooks {
  std::function<int64_t()> active_jobs = [] { return int64_t{0}; };
  // Whether the offer's base model is on disk already (only the training split to fetch).
  std::function<bool(const v1::TaskOffer&)> model_cached = [](const v1::TaskOffer&) { return false; };
  // The training compute rate to admit `offer` with, when the miner measured one for its model
  // (0: the calibration's, OfferLoopOptions.throughput).
  std::function<double(const v1::TaskOffer&)> flops_per_second = [](const v1::TaskOffer&) { return 0.0; };
  // A claim this miner won (its deadline converted here, where it arrives): the job starts from it.
  // Called on the loop's thread.
  std::function<void(const JobClaim&)> on_claim = [](const JobClaim&) {};
};

struct OfferLoopOptions {
  MinerCapacity capacity{};
  std::string device = "cpu";  // its kind is declared: cpu or cuda
  ThroughputEstimate throughput{};
  double measured_tokens_per_second = 0;  // declared to the validator when measured
  AdmissionOptions admission{};
  ReconnectOptions reconnect{};
};

class OfferLoop {
 public:
  OfferLoop(ValidatorConnection& connection, OfferLoopOptions options, OfferLoopHooks hooks, common::ClockMs now_ms);

  // Subscribes and answers offers until Stop() (OK), or until the validator refuses what this
  // miner declares (INVALID_ARGUMENT, PERMISSION_DENIED: a configuration to mend, not to retry).
  common::Status Run();
  // Ends the stream and any backoff wait; Run returns soon after. Safe from any thread.
  void Stop();

 private:
  // One subscription, until its stream ends: whether it received an offer, or the refusal that
  // ends the loop.
  common::Result<bool> Subscribe();
  void Answer(const v1::TaskOffer& offer);

  ValidatorConnection& connection_;
  const OfferLoopOptions options_;
  const OfferLoopHooks hooks_;
  const common::ClockMs now_ms_;
  std::mutex mutex_;
  std::condition_variable stopped_changed_;
  bool stopped_ = false;
  grpc::ClientContext* stream_context_ = nullptr;  // the open subscription's, for Stop
};

}  // namespace gradients::miner
