// The base model of a claimed task as the trainers read it (issue 6, Jobs): a directory whose files
// carry the names the task spec gives (config.json, model.safetensors, tokenizer.json, ...), linked
// from the blob cache, so that a model shared by many tasks takes its disk space once. The names
// come from the validator and are checked before anything is written: relative, forward slashes,
// no empty, "." or ".." component, at most 255 bytes.
#pragma once

#include <filesystem>

#include "common/status.h"
#include "gradients/v1/task.pb.h"
#include "miner/blob_cache.h"

namespace gradients::miner {

// InvalidArgument for a name that would leave `dir` (nothing is written then); FailedPrecondition
// for a file the cache does not hold (fetch it first).
common::Status MaterializeModel(const BlobCache& cache, const v1::TaskSpec& task, const std::filesystem::path& dir);

// A name from a task spec, checked as MaterializeModel checks them.
common::Status CheckTaskFileName(const std::string& name);
// `ref`'s cached bytes at `target` (a hard link, or a copy across file systems).
common::Status LinkFromCache(const BlobCache& cache, const v1::BlobRef& ref, const std::filesystem::path& target);

}  // namespace gradients::miner
