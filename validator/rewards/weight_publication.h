// Publishing reward weights (DESIGN.md, Evaluation and scoring): every interval the validator
// computes a weight set from the stored scores, keeps it (with its inputs) in its history, writes
// <data_dir>/weights.json durably, and hands that file on stdin to an optional sink command (the
// hook for chain submission or an HTTP push), retried with doubling backoff.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/status.h"
#include "validator/rewards/scoring.h"
#include "validator/state/catalog_store.h"
#include "validator/state/evaluation_store.h"
#include "validator/state/task_store.h"
#include "validator/state/weight_set_store.h"

namespace gradients::validator {

struct WeightPublicationOptions {
  int64_t interval_ms = 3'600'000;
  std::vector<std::string> sink_command{};  // argv; empty: none
  int64_t sink_attempts = 5;
  int64_t sink_backoff_ms = 1000;  // before the second attempt; doubled for each further one, up to 5 minutes
  int64_t sink_timeout_ms = 60'000;
};

// Computes, stores and publishes one weight set; returns it as stored (with where it was
// published). The set is kept even when the sink fails every attempt (its published_to then names
// only the file); Aborted when `stop` turned true during the sink's backoff.
common::Result<WeightSetRecord> PublishWeights(CatalogStore& catalog_store, TaskStore& task_store,
                                               EvaluationStore& evaluation_store, WeightSetStore& weight_set_store,
                                               const ScoringOptions& scoring, const WeightPublicationOptions& options,
                                               const std::filesystem::path& weights_file, std::string_view validator_id,
                                               const common::ClockMs& now_ms, const std::atomic<bool>* stop = nullptr);

}  // namespace gradients::validator
