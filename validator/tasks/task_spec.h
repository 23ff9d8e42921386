// A task as the protocol describes it to miners (TaskSpec) and the conversions both services use:
// task type names, statuses and stored hashes to their protocol forms.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "gradients/v1/task.pb.h"
#include "proto/task_types.h"
#include "validator/state/catalog_store.h"
#include "validator/state/task_store.h"

namespace gradients::validator {

v1::TaskStatus ToProtoStatus(TaskStatus status);
// A stored BLAKE2b-256 hash (hex) as a Digest; DataLoss when it is not hex.
common::Status SetDigest(const std::string& hex, v1::Digest* digest);

// What miners see of a task (over its model and dataset): the base model's files, the training
// split, the column mapping, times and pool. Never the test split or the seed.
common::Status FillTaskSpec(const TaskRecord& task, const ModelRecord& model, const DatasetRecord& dataset,
                    v1::TaskSpec* spec);

}  // namespace gradients::validator
