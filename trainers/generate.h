// Text generation with a KV cache: greedy or temperature / top-p sampling.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "trainers/causal_lm.h"

namespace gradients::train {

struct GenerateOptions {
  int64_t max_new_tokens = 64;
  // 0 is greedy decoding; otherwise logits are divided by it before sampling.
  double temperature = 0.0;
  // Nucleus sampling: only the smallest set of tokens whose probability reaches top_p is kept.
  double top_p = 1.0;
  uint64_t seed = 0;
  // Generation stops after emitting any of these (the config's eos_token_id by default).
  std::vector<int64_t> stop_ids;
};

// The new tokens only (the prompt is not repeated). InvalidArgument for an empty prompt, ids
// outside the vocabulary or options out of range.
common::Result<std::vector<int32_t>> Generate(CausalLm& model, std::span<const int32_t> prompt, const GenerateOptions& options);

}  // namespace gradients::train
