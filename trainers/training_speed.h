// How fast this machine trains: a few full fine-tuning steps of a small randomly initialised
// Llama-shaped model on random full-length rows (the step `gradients train` runs: forward, fused
// output projection + cross-entropy, backward, AdamW), timed after a warm-up. The miner calibrates
// with it at start-up to estimate whether it can finish a task before its deadline. No libtorch
// types here: the miner's headers stay free of them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace gradients::train {

struct TrainingSpeedProbe {
  int64_t hidden_size = 256;
  int64_t layers = 4;
  int64_t heads = 4;
  int64_t intermediate_size = 688;
  int64_t vocab_size = 4096;
  int64_t batch = 4;
  int64_t sequence = 128;
  int64_t warmup_steps = 1;
  int64_t timed_steps = 3;
};

struct TrainingSpeed {
  std::string device;      // as resolved ("cpu", "cuda:0")
  int64_t parameters = 0;  // of the probe model
  double tokens_per_second = 0;
  // tokens/s x 6 x parameters: the multiply-adds of a full training step, per second.
  double flops_per_second = 0;
};

// InvalidArgument for a probe that is not a model (a non-positive size, heads not dividing the
// hidden size); the device's own errors (no usable GPU for "cuda") as ResolveComputeDevice gives them.
common::Result<TrainingSpeed> MeasureTrainingSpeed(const TrainingSpeedProbe& probe, std::string_view device);

}  // namespace gradients::train
