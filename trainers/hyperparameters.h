// Everything a fine-tuning run can be told, as one JSON-serialisable struct with defaults and
// validation: what `gradients train --config` reads and what the miner's search strategies search
// over. The defaults are the community default that single-strategy platforms use: LoRA r 8,
// alpha 16, dropout 0.05 on all linear projections, lr 2e-4, cosine schedule, 10 warmup steps,
// micro-batch 2 x accumulation 4, one epoch.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/enum_names.h"

namespace gradients::train {

// What a run trains: LoRA adapters on a frozen base, or every weight of the model.
enum class TrainingMode { kLora, kFull };
constexpr auto EnumNames(TrainingMode) {
  return std::to_array<common::EnumNameEntry<TrainingMode>>(
      {{TrainingMode::kLora, "lora"}, {TrainingMode::kFull, "full"}});
}

// How the learning rate goes after warmup: held, or decayed to 0 linearly or along a half cosine.
enum class LearningRateSchedule { kConstant, kLinear, kCosine };
constexpr auto EnumNames(LearningRateSchedule) {
  return std::to_array<common::EnumNameEntry<LearningRateSchedule>>({{LearningRateSchedule::kConstant, "constant"},
                                                                     {LearningRateSchedule::kLinear, "linear"},
                                                                     {LearningRateSchedule::kCosine, "cosine"}});
}

struct LoraHyperparameters {
  int64_t r = 8;
  double alpha = 16;
  double dropout = 0.05;
  bool use_rslora = false;  // scale alpha / sqrt(r) instead of alpha / r
  std::vector<std::string> target_modules = {"q_proj", "k_proj", "v_proj", "o_proj",
                                             "gate_proj", "up_proj", "down_proj"};
  // LoRA+: B learns this many times faster than A; 0 turns it off.
  double plus_lr_ratio = 0;
};

struct Hyperparameters {
  TrainingMode mode = TrainingMode::kLora;
  double learning_rate = 2e-4;
  LearningRateSchedule lr_scheduler = LearningRateSchedule::kCosine;  // after warmup
  int64_t warmup_steps = 10;
  double warmup_ratio = 0;               // of the total optimizer steps; used instead of warmup_steps when > 0
  double epochs = 1;
  int64_t micro_batch_size = 2;
  int64_t gradient_accumulation_steps = 4;
  int64_t max_length = 1024;             // tokens per training row
  bool packing = false;                  // several documents per row, attention kept inside each
  double weight_decay = 0;               // never applied to norms and biases
  double adam_beta1 = 0.9;
  double adam_beta2 = 0.999;
  double adam_epsilon = 1e-8;
  double max_grad_norm = 1.0;            // 0 turns clipping off
  uint64_t seed = 42;
  LoraHyperparameters lora;
  // A local validation split carved from the training data, evaluated every `eval_every_steps`
  // optimizer steps (0: only at the end); training stops after `early_stopping_patience`
  // evaluations without improvement (0: never).
  double validation_fraction = 0.05;
  int64_t eval_every_steps = 0;
  int64_t early_stopping_patience = 0;
  // Budgets; 0 is unlimited.
  int64_t max_steps = 0;
  int64_t max_train_tokens = 0;

  // Optimizer steps to warm up for, out of `total_steps`.
  int64_t WarmupSteps(int64_t total_steps) const;

  nlohmann::json ToJson() const;
};

void ReadConfig(common::ConfigReader& reader, LoraHyperparameters& lora);
void ReadConfig(common::ConfigReader& reader, Hyperparameters& hyperparameters);

// The learning-rate multiplier transformers' schedulers apply before optimizer step `step`
// (0-based) of `total_steps`: linear warmup from 0, then constant, linear decay to 0 or a half
// cosine to 0.
double LearningRateMultiplier(LearningRateSchedule schedule, int64_t step, int64_t warmup_steps, int64_t total_steps);

}  // namespace gradients::train
