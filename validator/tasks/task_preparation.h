// The preparing step of a task (DESIGN.md, Task): its dataset is split with the task's secret seed,
// both splits are stored as blobs and recorded, and the task moves on to offering. The hidden test
// split is only ever read by the validator's evaluation.
#pragma once

#include <cstdint>
#include <string_view>

#include "common/status.h"
#include "validator/state/blob_store.h"
#include "validator/state/catalog_store.h"
#include "validator/state/task_store.h"
#include "validator/tasks/dataset_split.h"

namespace gradients::validator {

// Takes a pending task, or one a crash left preparing, to offering. Running it again after an
// interruption gives the same splits (the split is deterministic, the blobs content-addressed). A
// dataset that cannot be split, or whose blob is missing or corrupt, fails the task with the
// reason, which is then the returned error (the task's status says which happened). The first
// offer window lasts `offer_window_ms` (at most until the deadline).
common::Status PrepareTask(CatalogStore& catalog_store, TaskStore& task_store, const BlobStore& blobs,
                           std::string_view task_id, int64_t now_ms, int64_t offer_window_ms,
                           const SplitOptions& options = {});

}  // namespace gradients::validator
