// Loading and saving Hugging Face model directories: config.json plus model.safetensors or a
// sharded model.safetensors.index.json. Loading is strict: a missing, unexpected or wrongly shaped
// tensor is an error naming it, because a silently half-loaded model scores as garbage.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "trainers/causal_lm.h"

namespace gradients {

struct ModelLoadOptions {
  // Parameters are kept in this dtype; float32 by default (CPU evaluation is float32 and
  // deterministic). The weights may be stored as float32, float16 or bfloat16.
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;
  // A PEFT LoRA adapter directory merged into the weights (in float32, before the dtype and device).
  std::filesystem::path adapter{};
};

// Copies the safetensors tensors of `model_dir` into `model`'s parameters by name.
Status LoadModelWeights(CausalLm& model, const std::filesystem::path& model_dir);

// config.json + weights (+ the adapter), on the requested device and dtype, in evaluation mode.
Result<CausalLm> LoadCausalLm(const std::filesystem::path& model_dir, const ModelLoadOptions& options = {});

// The model's parameters by Hugging Face name, as stored in model.safetensors (a tied lm_head is
// not written: transformers ties it again on load).
std::map<std::string, at::Tensor> NamedWeights(CausalLm& model);

// Writes config.json and model.safetensors (weights in `dtype`), durably.
Status SaveCausalLm(CausalLm& model, const std::filesystem::path& model_dir, at::ScalarType dtype = at::kFloat);

}  // namespace gradients
