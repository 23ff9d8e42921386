#include "validator/task_preparation.h"

#include <string>

namespace gradients {
Status PrepareTask(Store& store, const BlobStore& blobs, std::string_view task_id, int64_t now_ms,
                   const SplitOptions& options) {
  Result<TaskRecord> task = store.GetTask(task_id);
  if (!task.ok()) return task.status();
  if (task->status == TaskStatus::kPending) {
    GRADIENTS_RETURN_IF_ERROR(
        store.TransitionTask(task_id, TaskStatus::kPending, TaskStatus::kPreparing, "splitting the dataset", now_ms));
  } else if (task->status != TaskStatus::kPreparing) {
    return Status::FailedPrecondition("task " + task->id + " is " + std::string(TaskStatusName(task->status)) +
                                      ", not pending or preparing");
  }
  Result<DatasetRecord> dataset = store.GetDataset(task->dataset_hash);
  if (!dataset.ok()) return dataset.status();
  Result<uint64_t> size = blobs.Size(dataset->hash);
  if (!size.ok()) return size.status().WithContext("dataset " + dataset->name);
  Result<std::string> text = blobs.Read(dataset->hash, 0, *size);
  if (!text.ok()) return text.status().WithContext("dataset " + dataset->name);
  Result<DatasetSplit> split = SplitDataset(*text, dataset->format, task->split_seed, options);
  if (!split.ok()) {
    const Status reason = split.status().WithContext("dataset " + dataset->name);
    GRADIENTS_RETURN_IF_ERROR(
        store.TransitionTask(task_id, TaskStatus::kPreparing, TaskStatus::kFailed, reason.message(), now_ms));
    return reason;
  }
  Result<StoredBlob> train = blobs.Put(split->train);
  if (!train.ok()) return train.status();
  Result<StoredBlob> test = blobs.Put(split->test);
  if (!test.ok()) return test.status();
  GRADIENTS_RETURN_IF_ERROR(store.RecordSplit(task_id, train->hash, test->hash, split->train_rows, split->test_rows));
  return store.TransitionTask(task_id, TaskStatus::kPreparing, TaskStatus::kOffering,
                              "split " + std::to_string(split->train_rows) + " training and " +
                                  std::to_string(split->test_rows) + " test rows",
                              now_ms);
}

}  // namespace gradients
