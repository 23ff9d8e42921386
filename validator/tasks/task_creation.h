// Creating a task on the operator's request (Admin CreateTask, `gradients task create`): the base
// model and dataset are found in the catalog by name (or registered from a path on the validator's
// host), the column mapping is checked against the task type and the dataset's columns, and the
// task is stored pending; the daemon prepares and offers it in the background.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/config.h"
#include "common/status.h"
#include "validator/state/blob_store.h"
#include "validator/state/catalog_store.h"
#include "validator/state/task_store.h"

namespace gradients::validator {

// The training times a task may have (config section "tasks"): ten minutes to a week unless the
// operator allows shorter tasks (a local testnet's rounds take a few minutes).
struct TaskLimits {
  int64_t min_duration_s = 600;
  int64_t max_duration_s = 604'800;
};
void ReadConfig(common::ConfigReader& reader, TaskLimits& limits);

struct NewTask {
  std::string type;        // instruct, chat or text (the types miners train today)
  std::string base_model;  // a registered model's name, or a model directory on this host
  std::string dataset;     // a registered dataset's name, or a .jsonl/.csv file on this host
  std::map<std::string, std::string> columns;  // role -> column; roles not mapped read their own name
  int64_t duration_s = 3600;       // within TaskLimits
  int64_t min_pool_size = 1;       // at least 1
  int64_t max_pool_size = 8;       // min_pool_size to 256
  int64_t max_training_tokens = 0;  // 0: no budget
  std::string request_id;          // optional idempotency key, at most 64 bytes
};

// InvalidArgument names the field; NotFound an unknown model or dataset; AlreadyExists a
// request_id used before for a different request (the same request returns the task it created).
common::Result<TaskRecord> CreateTask(CatalogStore& catalog_store, TaskStore& task_store, const BlobStore& blobs,
                                      const NewTask& request, const TaskLimits& limits, int64_t now_ms);

}  // namespace gradients::validator
