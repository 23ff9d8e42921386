// Randomly initialised models in Hugging Face layout, from named presets: the base models that
// tests, the local testnet and the benchmarks start from.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "trainers/causal_lm.h"

namespace gradients::train {

struct ModelPreset {
  std::string name;
  std::string description;
  ModelConfig config;
};

// tiny (CI-sized, well under a million parameters), small (~5M), base (~25M), tinyllama-1.1b.
const std::vector<ModelPreset>& ModelPresets();
common::Result<ModelPreset> FindModelPreset(const std::string& name);

// transformers' initialisation for Llama-family models: linear and embedding weights from
// N(0, 0.02), biases zero, norm weights one. Deterministic for a seed.
void InitializeWeights(CausalLm& model, uint64_t seed);

struct InitModelOptions {
  std::string preset = "tiny";
  // The tokenizer files to copy beside the model (tokenizer.json or tokenizer.model, a model
  // directory, ...); its vocabulary size and BOS/EOS replace the preset's.
  std::optional<std::filesystem::path> tokenizer{};
  uint64_t seed = 0;
  at::ScalarType dtype = at::kFloat;
};

// Writes config.json, model.safetensors and the tokenizer files into `out_dir`.
common::Status InitModel(const std::filesystem::path& out_dir, const InitModelOptions& options);

}  // namespace gradients::train
