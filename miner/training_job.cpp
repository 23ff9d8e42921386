#include "miner/training_job.h"

#include <chrono>

#include "miner/checkpoint_upload.h"
#include "miner/model_directory.h"
#include "proto/task_types.h"
#include "trainers/dataset.h"
#include "trainers/tokenizer.h"
#include "trainers/trainer.h"

namespace gradients {

Result<TrainingJobResult> RunTrainingJob(ValidatorConnection& connection, const BlobCache& cache,
                                         const v1::Claim& claim, const TrainingJobOptions& options) {
  const v1::TaskSpec& task = claim.task();
  const std::string where = "task " + claim.task_id();
  Result<DatasetFormat> format = ParseDatasetFormat(TaskTypeName(task.type()));
  if (!format.ok()) return format.status().WithContext(where);
  GRADIENTS_RETURN_IF_ERROR(CheckTaskFileName(task.training_split().file_name()).WithContext(where));

  // The inputs, fetched (or found in the cache) and laid out as the trainers read them.
  for (const v1::BlobRef& file : task.base_model_files()) {
    if (Result<std::filesystem::path> fetched = cache.Fetch(connection, file); !fetched.ok()) {
      return fetched.status().WithContext(where);
    }
  }
  if (Result<std::filesystem::path> fetched = cache.Fetch(connection, task.training_split()); !fetched.ok()) {
    return fetched.status().WithContext(where);
  }
  const std::filesystem::path model_dir = options.job_dir / "model";
  const std::filesystem::path split = options.job_dir / "data" / task.training_split().file_name();
  GRADIENTS_RETURN_IF_ERROR(MaterializeModel(cache, task, model_dir).WithContext(where));
  GRADIENTS_RETURN_IF_ERROR(LinkFromCache(cache, task.training_split(), split).WithContext(where));

  DatasetOptions dataset;
  dataset.format = *format;
  dataset.max_length = options.hyperparameters.max_length;
  dataset.columns.columns = {task.column_mapping().columns().begin(), task.column_mapping().columns().end()};
  Result<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(model_dir);
  if (!tokenizer.ok()) return tokenizer.status().WithContext(where);
  Result<std::vector<TokenizedExample>> examples = LoadTokenizedDataset(split, **tokenizer, dataset);
  if (!examples.ok()) return examples.status().WithContext(where);

  TrainOptions train;
  train.hyperparameters = options.hyperparameters;
  train.model_dir = model_dir;
  train.out_dir = options.job_dir / "train";
  train.device = options.device;
  train.resume = std::filesystem::exists(train.out_dir / "checkpoint");  // a restarted miner goes on
  train.cancel = options.cancel;
  const int64_t deadline_ms = task.deadline().seconds() * 1000 + task.deadline().nanos() / 1'000'000;
  train.deadline =
      std::chrono::system_clock::time_point(std::chrono::milliseconds(deadline_ms - options.upload_reserve_ms));
  const int32_t pad_id = (*tokenizer)->eos_id().value_or(0);
  Result<TrainResult> trained = Train(train, std::move(*examples), pad_id);
  if (!trained.ok()) return trained.status().WithContext(where);

  // The adapter alone (the trainer's directory also holds its checkpoint and summary).
  const std::filesystem::path exported = options.job_dir / "export";
  std::error_code error;
  std::filesystem::create_directories(exported, error);
  if (error) return Status::IoError("creating " + exported.string() + ": " + error.message());
  for (const char* name : {"adapter_config.json", "adapter_model.safetensors"}) {
    std::filesystem::copy_file(train.out_dir / name, exported / name, std::filesystem::copy_options::overwrite_existing,
                               error);
    if (error) return Status::IoError("exporting " + std::string(name) + ": " + error.message());
  }
  Result<UploadedCheckpoint> uploaded =
      UploadCheckpoint(connection, claim.task_id(), claim.claim_nonce(), exported, CheckpointKind::kLoraAdapter);
  if (!uploaded.ok()) return uploaded.status().WithContext(where);
  return TrainingJobResult{.steps = trained->steps,
                           .stop_reason = trained->stop_reason,
                           .train_loss = trained->train_loss,
                           .receipt_id = uploaded->receipt_id};
}

}  // namespace gradients
