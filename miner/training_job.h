// One claimed task from its claim to its receipt with one configuration (what the `fixed`
// strategy runs; issue 6, Jobs): fetch the base model and the training split into the blob cache,
// lay out the model directory, tokenize the split as the task's type and columns say, train until
// the configuration is done or the time the upload needs before the deadline has come, export
// the result and upload it signed. No libtorch types here.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>

#include "common/status.h"
#include "gradients/v1/miner_gateway.pb.h"
#include "miner/blob_cache.h"
#include "miner/validator_connection.h"
#include "trainers/hyperparameters.h"

namespace gradients {

struct TrainingJobOptions {
  std::filesystem::path job_dir;  // this task's own: model/, the split, train/, export/
  std::string device = "cpu";
  Hyperparameters hyperparameters{};
  // Training stops this long before the deadline: the upload and a margin.
  int64_t upload_reserve_ms = 60'000;
  const std::atomic<bool>* cancel = nullptr;  // stops training early; what it has is still sent
};

struct TrainingJobResult {
  int64_t steps = 0;
  std::string stop_reason;  // as the trainer's ("completed", "deadline", ...)
  double train_loss = 0;
  std::string receipt_id;
};

Result<TrainingJobResult> RunTrainingJob(ValidatorConnection& connection, const BlobCache& cache,
                                         const v1::Claim& claim, const TrainingJobOptions& options);

}  // namespace gradients
