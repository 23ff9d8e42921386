// The resumable state of a fine-tuning run (trainers/trainer.h describes the directory): written
// to a fresh directory and renamed into place, read back strictly.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include "common/status.h"

namespace gradients::train {

struct TrainState {
  int64_t step = 0;           // optimizer steps done
  int64_t micro_batches = 0;  // micro-batches consumed: the data position
  int64_t tokens = 0;         // training tokens consumed
  std::string generator_state;  // hex of the generator state (dropout masks)
  std::optional<double> best_validation_loss;
  int64_t best_step = 0;
  int64_t evaluations_without_improvement = 0;
  // What the run must match to resume.
  nlohmann::json hyperparameters;
  std::string data_digest;
  std::string model_fingerprint;
};

using NamedTensors = std::map<std::string, at::Tensor>;

struct TrainCheckpoint {
  TrainState state;
  NamedTensors trainable;
  NamedTensors optimizer;
  NamedTensors best;  // empty when no validation has happened
};

// Writes `checkpoint` as `dir` (replacing a previous one only once the new one is complete).
common::Status SaveTrainCheckpoint(const std::filesystem::path& dir, const TrainCheckpoint& checkpoint);

// Reads the newest complete checkpoint SaveTrainCheckpoint wrote: `dir`, else a finished
// `dir`.new (a save interrupted before its rename), else `dir`.old (one interrupted between its two
// renames). A directory is complete when it holds state.json, which is written last. NotFound when
// there is none.
common::Result<TrainCheckpoint> LoadTrainCheckpoint(const std::filesystem::path& dir);

// Safetensors files of float32 / float16 / bfloat16 / int64 tensors, to and from CPU tensors.
common::Status WriteTensorFile(const std::filesystem::path& path, const NamedTensors& tensors);
common::Result<NamedTensors> ReadTensorFile(const std::filesystem::path& path);

}  // namespace gradients::train
