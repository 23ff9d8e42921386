#include "validator/tasks/task_preparation.h"

#include <algorithm>

#include <string>

namespace gradients::validator {
common::Status PrepareTask(CatalogStore& catalog_store, TaskStore& task_store, const BlobStore& blobs,
                           std::string_view task_id, int64_t now_ms, int64_t offer_window_ms,
                           const SplitOptions& options) {
  common::Result<TaskRecord> task = task_store.GetTask(task_id);
  if (!task.ok()) return task.status();
  if (task->status == TaskStatus::kPending) {
    GRADIENTS_RETURN_IF_ERROR(task_store.TransitionTask(task_id, TaskStatus::kPending, TaskStatus::kPreparing,
                                                        "splitting the dataset", now_ms));
  } else if (task->status != TaskStatus::kPreparing) {
    return common::Status::FailedPrecondition("task " + task->id + " is " + std::string(TaskStatusName(task->status)) +
                                      ", not pending or preparing");
  }
  // What makes this task impossible fails it, with the reason; the validator goes on.
  auto fail = [&](const common::Status& reason) -> common::Status {
    GRADIENTS_RETURN_IF_ERROR(
        task_store.TransitionTask(task_id, TaskStatus::kPreparing, TaskStatus::kFailed, reason.message(), now_ms));
    return reason;
  };
  common::Result<DatasetRecord> dataset = catalog_store.GetDataset(task->dataset_hash);
  if (!dataset.ok()) return dataset.status();
  common::Result<uint64_t> size = blobs.Size(dataset->hash);
  common::Result<std::string> text = size.ok() ? blobs.Read(dataset->hash, 0, *size) : common::Result<std::string>(size.status());
  if (!text.ok()) {
    if (text.status().code() != common::StatusCode::kNotFound && text.status().code() != common::StatusCode::kDataLoss) {
      return text.status();  // the disk, not the task: try again later
    }
    return fail(text.status().WithContext("dataset " + dataset->name));
  }
  common::Result<DatasetSplit> split = SplitDataset(*text, dataset->format, task->split_seed, options);
  if (!split.ok()) return fail(split.status().WithContext("dataset " + dataset->name));
  common::Result<StoredBlob> train = blobs.Put(split->train);
  if (!train.ok()) return train.status();
  common::Result<StoredBlob> test = blobs.Put(split->test);
  if (!test.ok()) return test.status();
  GRADIENTS_RETURN_IF_ERROR(task_store.RecordSplit(task_id, {.train_blob = train->hash,
                                                             .test_blob = test->hash,
                                                             .train_rows = split->train_rows,
                                                             .test_rows = split->test_rows,
                                                             .train_bytes = static_cast<int64_t>(train->bytes)}));
  // Training time counts from the moment the offers open (CreateTaskRequest.duration_seconds).
  const int64_t deadline_ms = now_ms + task->duration_s * 1000;
  return task_store.OpenOffers(
      task_id, deadline_ms, std::min(now_ms + offer_window_ms, deadline_ms),
      "split " + std::to_string(split->train_rows) + " training and " + std::to_string(split->test_rows) + " test rows",
      now_ms);
}

}  // namespace gradients::validator
