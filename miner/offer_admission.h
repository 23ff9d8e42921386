// Whether to take an offer (issue 6, Offers): only what the miner can finish. In order: a task
// type it does not train, a base model over its capacity, all of its slots busy, and a deadline
// that the estimated fetch + training + upload time plus a safety margin does not fit; each
// refusal carries the reason the validator records.
#pragma once

#include <cstdint>
#include <string>

#include "gradients/v1/miner_gateway.pb.h"
#include "miner/miner_options.h"

namespace gradients::miner {

// How fast this miner works, measured (training) or assumed (network).
struct ThroughputEstimate {
  // Training compute actually reached: tokens/s x 6 x parameters of a calibration run on this
  // device (6 multiply-adds per parameter per token: forward, and backward for both the inputs
  // and the weights). A LoRA step needs less; counting it as a full one keeps the estimate safe.
  double flops_per_second = 0;
  double fetch_bytes_per_second = 50e6;   // base model and training split from the validator
  double upload_bytes_per_second = 20e6;  // the checkpoint to the validator
};

struct AdmissionOptions {
  double bytes_per_token = 4.0;  // training tokens, before tokenizing: the split's bytes / this
  double epochs = 1.0;           // what the strategy trains at least
  // The checkpoint's size against the base model's: a LoRA adapter is a few percent of it.
  double checkpoint_bytes_per_model_byte = 0.05;
  double safety_fraction = 0.1;  // of the time left, kept free
  int64_t safety_ms = 60'000;    // and this much more
};

struct Admission {
  v1::DeclineReason decline = v1::DECLINE_REASON_UNSPECIFIED;  // UNSPECIFIED: accept
  std::string detail;                                          // why (for the log and the validator's record)
  int64_t estimated_ms = 0;  // fetch + training + upload, once the cheaper checks passed
  bool accepted() const { return decline == v1::DECLINE_REASON_UNSPECIFIED; }
};

// `active_jobs`: tasks the miner is working on now; `model_cached`: the base model is on disk
// already (nothing to fetch but the split).
Admission AdmitOffer(const v1::TaskOffer& offer, const MinerCapacity& capacity, int64_t active_jobs, bool model_cached,
                     const ThroughputEstimate& throughput, const AdmissionOptions& options, int64_t now_ms);

}  // namespace gradients::miner
