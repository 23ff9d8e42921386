// The architecture of a Llama-family decoder (Llama, Mistral, Qwen2) as Hugging Face's
// config.json describes it. No libtorch here: the miner sizes tasks from it without torch.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace gradients::train {

enum class ModelFamily { kLlama, kMistral, kQwen2 };

struct RopeScaling {
  // "default" (none), "linear" (positions divided by factor) or "llama3" (frequency-dependent).
  std::string type = "default";
  double factor = 1.0;
  double low_freq_factor = 1.0;                    // llama3
  double high_freq_factor = 4.0;                   // llama3
  int64_t original_max_position_embeddings = 8192;  // llama3
};

struct ModelConfig {
  ModelFamily family = ModelFamily::kLlama;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t num_key_value_heads = 0;  // GQA; equals num_attention_heads when absent
  int64_t head_dim = 0;             // hidden_size / num_attention_heads when absent
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  int64_t vocab_size = 0;
  bool tie_word_embeddings = false;
  bool attention_bias = false;              // Llama: biases on q, k, v and o
  int64_t max_position_embeddings = 2048;
  std::optional<int64_t> sliding_window;    // Mistral (and Qwen2 with use_sliding_window)
  std::string torch_dtype = "float32";      // the stored weights' dtype: float32, float16, bfloat16
  std::optional<int64_t> bos_token_id;
  std::vector<int64_t> eos_token_ids;

  // Which projections carry a bias: Qwen2 always on q/k/v and never on o; Llama per attention_bias.
  bool qkv_bias() const { return family == ModelFamily::kQwen2 || attention_bias; }
  bool o_bias() const { return family != ModelFamily::kQwen2 && attention_bias; }

  // Parameter count (tied embeddings counted once).
  int64_t ParameterCount() const;

  // The config.json that transformers reads back as the same model.
  nlohmann::json ToJson() const;
};

std::string_view ModelFamilyName(ModelFamily family);  // "llama", "mistral", "qwen2"

// Parses a config.json object. Keys the architecture does not use are ignored (configs carry many);
// the ones it uses are checked: errors name the key and the problem ("num_key_value_heads: 3 does not
// divide num_attention_heads 8").
common::Result<ModelConfig> ParseModelConfig(const nlohmann::json& json);

// Reads `model_dir`/config.json; errors are prefixed with its path.
common::Result<ModelConfig> LoadModelConfig(const std::filesystem::path& model_dir);

}  // namespace gradients::train
