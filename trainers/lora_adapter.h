// LoRA adapters in PEFT's layout (adapter_config.json + adapter_model.safetensors): saved (what a
// miner submits), loaded and merged into a model's weights: W' = W + scale * B A, with
// scale = lora_alpha / r, or lora_alpha / sqrt(r) with rsLoRA. This is how the validator evaluates a
// submitted adapter.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "trainers/causal_lm.h"

namespace gradients::train {

struct LoraAdapterConfig {
  int64_t r = 8;
  double lora_alpha = 8;
  double lora_dropout = 0;
  bool use_rslora = false;
  std::vector<std::string> target_modules;  // module names such as "q_proj"
  std::string base_model_name_or_path;

  double Scale() const;
};

struct LoraWeights {
  at::Tensor a;  // [r, in]
  at::Tensor b;  // [out, r]
};

struct LoraAdapter {
  LoraAdapterConfig config;
  // By the adapted module's parameter path in the model: "model.layers.0.self_attn.q_proj".
  std::map<std::string, LoraWeights> modules;
};

// Reads `dir`/adapter_config.json and `dir`/adapter_model.safetensors. Strict: a key that is not
// `base_model.model.<module>.lora_{A,B}.weight`, a module with only one of A and B, a rank other than
// r, or a configuration this loader cannot honour (DoRA, fan_in_fan_out, biases, modules_to_save,
// per-layer rank or alpha patterns) is an error naming it.
common::Result<LoraAdapter> LoadLoraAdapter(const std::filesystem::path& dir);

// Writes `adapter` into `dir` (created if missing) so that PEFT's `PeftModel.from_pretrained` and
// LoadLoraAdapter read it unchanged: adapter_model.safetensors with
// `base_model.model.<module>.lora_A.weight` [r, in] and `.lora_B.weight` [out, r] in the tensors' own
// dtype, then adapter_config.json; each file durably. An adapter LoadLoraAdapter would refuse (no
// modules or target_modules, a rank other than config.r, non-matrix weights) is an InvalidArgument
// naming the module, and nothing is written.
common::Status SaveLoraAdapter(const LoraAdapter& adapter, const std::filesystem::path& dir);

// Adds scale * B A to each adapted weight, after checking that the module exists in `model`, is
// one of the config's target modules and has the shapes A and B imply.
common::Status MergeLoraAdapter(CausalLm& model, const LoraAdapter& adapter);

}  // namespace gradients::train
