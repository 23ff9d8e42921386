#include "miner/offer_admission.h"

#include <algorithm>
#include <cmath>

#include "proto/task_types.h"
#include "proto/timestamps.h"

namespace gradients::miner {
namespace {

// Whole milliseconds, rounded up (the estimate errs on the long side), at most a year: a speed
// measured absurdly low must not overflow into a negative estimate.
int64_t Milliseconds(double seconds) {
  constexpr double kYearMs = 365.0 * 86'400'000;
  const double ms = std::ceil(seconds * 1000);
  return static_cast<int64_t>(std::isfinite(ms) ? std::min(std::max(ms, 0.0), kYearMs) : kYearMs);
}

}  // namespace

Admission AdmitOffer(const v1::TaskOffer& offer, const MinerCapacity& capacity, int64_t active_jobs, bool model_cached,
                     const ThroughputEstimate& throughput, const AdmissionOptions& options, int64_t now_ms) {
  const std::string type(proto::TaskTypeName(offer.type()));
  if (std::find(capacity.task_types.begin(), capacity.task_types.end(), type) == capacity.task_types.end()) {
    return {.decline = v1::DECLINE_REASON_UNSUPPORTED_TASK_TYPE,
            .detail = "this miner does not train " + type + " tasks"};
  }
  const double parameters = static_cast<double>(offer.base_model_parameters());
  if (offer.base_model_parameters() > static_cast<uint64_t>(capacity.max_model_parameters)) {
    return {.decline = v1::DECLINE_REASON_INSUFFICIENT_CAPACITY,
            .detail = "the base model has " + std::to_string(offer.base_model_parameters()) +
                      " parameters, more than this miner's " + std::to_string(capacity.max_model_parameters)};
  }
  if (active_jobs >= capacity.max_concurrent_tasks) {
    return {.decline = v1::DECLINE_REASON_BUSY,
            .detail = "all " + std::to_string(capacity.max_concurrent_tasks) + " of this miner's slots are busy"};
  }
  if (throughput.flops_per_second <= 0) {
    return {.decline = v1::DECLINE_REASON_OTHER, .detail = "this miner has not measured its training speed"};
  }
  double tokens = options.epochs * static_cast<double>(offer.training_split_size_bytes()) / options.bytes_per_token;
  if (offer.has_max_training_tokens() && offer.max_training_tokens() > 0) {
    tokens = std::min(tokens, static_cast<double>(offer.max_training_tokens()));
  }
  const double model_bytes = static_cast<double>(offer.base_model_size_bytes());
  const double fetch_bytes = static_cast<double>(offer.training_split_size_bytes()) + (model_cached ? 0 : model_bytes);
  const int64_t fetch_ms = Milliseconds(fetch_bytes / throughput.fetch_bytes_per_second);
  const int64_t training_ms = Milliseconds(6 * parameters * tokens / throughput.flops_per_second);
  const int64_t upload_ms =
      Milliseconds(options.checkpoint_bytes_per_model_byte * model_bytes / throughput.upload_bytes_per_second);
  const int64_t estimated_ms = fetch_ms + training_ms + upload_ms;
  const int64_t deadline_ms = proto::DeadlineMsOf(offer.deadline());
  const int64_t left_ms = deadline_ms - now_ms;
  const int64_t usable_ms =
      left_ms - static_cast<int64_t>(options.safety_fraction * static_cast<double>(left_ms)) - options.safety_ms;
  if (estimated_ms > usable_ms) {
    return {.decline = v1::DECLINE_REASON_NOT_ENOUGH_TIME,
            .detail = "needs about " + std::to_string(estimated_ms / 1000) + " s (fetch " +
                      std::to_string(fetch_ms / 1000) + ", training " + std::to_string(training_ms / 1000) +
                      ", upload " + std::to_string(upload_ms / 1000) + ") and has " +
                      std::to_string(std::max<int64_t>(0, usable_ms) / 1000) + " s of the " +
                      std::to_string(std::max<int64_t>(0, left_ms) / 1000) + " s left after the safety margin",
            .estimated_ms = estimated_ms};
  }
  return {.decline = v1::DECLINE_REASON_UNSPECIFIED, .detail = "", .estimated_ms = estimated_ms};
}

}  // namespace gradients::miner
