#include "trainers/hyperparameters.h"

#include <algorithm>
#include <cmath>

namespace gradients::train {

void ReadConfig(common::ConfigReader& reader, LoraHyperparameters& lora) {
  reader.Optional("r", lora.r)
      .Optional("alpha", lora.alpha)
      .Optional("dropout", lora.dropout)
      .Optional("use_rslora", lora.use_rslora)
      .Optional("target_modules", lora.target_modules)
      .Optional("plus_lr_ratio", lora.plus_lr_ratio)
      .Check(lora.r >= 1 && lora.r <= 4096, "r", "must be in 1..4096")
      .Check(lora.alpha > 0, "alpha", "must be positive")
      .Check(lora.dropout >= 0 && lora.dropout < 1, "dropout", "must be in [0, 1)")
      .Check(!lora.target_modules.empty(), "target_modules", "must name at least one module")
      .Check(lora.plus_lr_ratio >= 0, "plus_lr_ratio", "must be 0 (off) or positive");
}

void ReadConfig(common::ConfigReader& reader, Hyperparameters& h) {
  reader.Optional("mode", h.mode)
      .Optional("learning_rate", h.learning_rate)
      .Optional("lr_scheduler", h.lr_scheduler)
      .Optional("warmup_steps", h.warmup_steps)
      .Optional("warmup_ratio", h.warmup_ratio)
      .Optional("epochs", h.epochs)
      .Optional("micro_batch_size", h.micro_batch_size)
      .Optional("gradient_accumulation_steps", h.gradient_accumulation_steps)
      .Optional("max_length", h.max_length)
      .Optional("packing", h.packing)
      .Optional("weight_decay", h.weight_decay)
      .Optional("adam_beta1", h.adam_beta1)
      .Optional("adam_beta2", h.adam_beta2)
      .Optional("adam_epsilon", h.adam_epsilon)
      .Optional("max_grad_norm", h.max_grad_norm)
      .Optional("seed", h.seed)
      .Optional("lora", h.lora)
      .Optional("validation_fraction", h.validation_fraction)
      .Optional("eval_every_steps", h.eval_every_steps)
      .Optional("early_stopping_patience", h.early_stopping_patience)
      .Optional("max_steps", h.max_steps)
      .Optional("max_train_tokens", h.max_train_tokens)
      .Check(h.learning_rate > 0 && h.learning_rate <= 1, "learning_rate", "must be in (0, 1]")
      .Check(h.warmup_steps >= 0, "warmup_steps", "must not be negative")
      .Check(h.warmup_ratio >= 0 && h.warmup_ratio < 1, "warmup_ratio", "must be in [0, 1)")
      .Check(h.epochs > 0 && h.epochs <= 1000, "epochs", "must be in (0, 1000]")
      .Check(h.micro_batch_size >= 1 && h.micro_batch_size <= 4096, "micro_batch_size", "must be in 1..4096")
      .Check(h.gradient_accumulation_steps >= 1 && h.gradient_accumulation_steps <= 4096,
             "gradient_accumulation_steps", "must be in 1..4096")
      .Check(h.max_length >= 2 && h.max_length <= (1 << 20), "max_length", "must be in 2..1048576")
      .Check(h.weight_decay >= 0 && h.weight_decay < 1, "weight_decay", "must be in [0, 1)")
      .Check(h.adam_beta1 >= 0 && h.adam_beta1 < 1, "adam_beta1", "must be in [0, 1)")
      .Check(h.adam_beta2 >= 0 && h.adam_beta2 < 1, "adam_beta2", "must be in [0, 1)")
      .Check(h.adam_epsilon > 0, "adam_epsilon", "must be positive")
      .Check(h.max_grad_norm >= 0, "max_grad_norm", "must be 0 (off) or positive")
      .Check(h.validation_fraction >= 0 && h.validation_fraction < 0.5, "validation_fraction", "must be in [0, 0.5)")
      .Check(h.eval_every_steps >= 0, "eval_every_steps", "must not be negative")
      .Check(h.early_stopping_patience >= 0, "early_stopping_patience", "must not be negative")
      .Check(h.max_steps >= 0, "max_steps", "must be 0 (unlimited) or positive")
      .Check(h.max_train_tokens >= 0, "max_train_tokens", "must be 0 (unlimited) or positive");
}

int64_t Hyperparameters::WarmupSteps(int64_t total_steps) const {
  if (warmup_ratio > 0) return static_cast<int64_t>(std::ceil(warmup_ratio * static_cast<double>(total_steps)));
  return warmup_steps;
}

nlohmann::json Hyperparameters::ToJson() const {
  return {{"mode", common::EnumName(mode)},
          {"learning_rate", learning_rate},
          {"lr_scheduler", common::EnumName(lr_scheduler)},
          {"warmup_steps", warmup_steps},
          {"warmup_ratio", warmup_ratio},
          {"epochs", epochs},
          {"micro_batch_size", micro_batch_size},
          {"gradient_accumulation_steps", gradient_accumulation_steps},
          {"max_length", max_length},
          {"packing", packing},
          {"weight_decay", weight_decay},
          {"adam_beta1", adam_beta1},
          {"adam_beta2", adam_beta2},
          {"adam_epsilon", adam_epsilon},
          {"max_grad_norm", max_grad_norm},
          {"seed", seed},
          {"lora",
           {{"r", lora.r},
            {"alpha", lora.alpha},
            {"dropout", lora.dropout},
            {"use_rslora", lora.use_rslora},
            {"target_modules", lora.target_modules},
            {"plus_lr_ratio", lora.plus_lr_ratio}}},
          {"validation_fraction", validation_fraction},
          {"eval_every_steps", eval_every_steps},
          {"early_stopping_patience", early_stopping_patience},
          {"max_steps", max_steps},
          {"max_train_tokens", max_train_tokens}};
}

double LearningRateMultiplier(LearningRateSchedule schedule, int64_t step, int64_t warmup_steps, int64_t total_steps) {
  if (step < warmup_steps) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps));
  const double progress =
      static_cast<double>(step - warmup_steps) / static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  switch (schedule) {
    case LearningRateSchedule::kConstant: return 1.0;
    case LearningRateSchedule::kLinear: return std::max(0.0, 1.0 - progress);
    case LearningRateSchedule::kCosine: break;
  }
  return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
}

}  // namespace gradients::train
