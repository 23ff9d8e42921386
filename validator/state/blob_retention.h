// Removing the blobs the validator no longer needs (DESIGN.md, State). Every checkpoint a miner
// uploads and every task's splits go into the blob store; a re-upload leaves the replaced files
// behind, and a finished task's files are not read again. Without removal a validator's disk fills
// with them. What stays: the models' files and the datasets, and the splits and checkpoints of
// every task not finished, or finished (scored or failed) within the retention period; anything
// stored within the grace period (an upload or a registration records its blobs just after it
// stores them).
#pragma once

#include <cstdint>

#include "common/status.h"
#include "validator/state/blob_store.h"
#include "validator/state/store.h"

namespace gradients::validator {

struct RetentionOptions {
  int64_t keep_finished_ms = 7 * 86'400'000;  // how long a finished task's splits and checkpoints are kept
  int64_t grace_ms = 3'600'000;               // a blob stored within this is kept whatever names it
  int64_t sweep_interval_ms = 3'600'000;      // 0: never remove anything
};

struct BlobSweep {
  int64_t kept = 0;
  int64_t removed = 0;
  uint64_t removed_bytes = 0;
};

// Removes every blob that no record needs and that was stored before now_ms - grace_ms.
common::Result<BlobSweep> RemoveUnneededBlobs(Store& store, const BlobStore& blobs, const RetentionOptions& options,
                                      int64_t now_ms);

}  // namespace gradients::validator
