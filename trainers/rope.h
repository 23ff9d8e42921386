// Rotary position embeddings as transformers computes them for Llama-family models, including
// the "linear" and "llama3" frequency scalings.
#pragma once

#include <ATen/ATen.h>

#include "trainers/model_config.h"

namespace gradients::train {

// The inverse frequencies (head_dim / 2 of them), float32, after rope_scaling.
at::Tensor RopeInverseFrequencies(const ModelConfig& config, const at::Device& device);

struct RopeTables {
  at::Tensor cos;  // [batch, 1, seq, head_dim], in the compute dtype
  at::Tensor sin;
};

// cos/sin for `position_ids` [batch, seq]; computed in float32 then cast, as transformers does.
RopeTables ComputeRope(const at::Tensor& inverse_frequencies, const at::Tensor& position_ids, at::ScalarType dtype);

// x * cos + rotate_half(x) * sin, for x [batch, heads, seq, head_dim].
at::Tensor ApplyRope(const at::Tensor& x, const RopeTables& rope);

}  // namespace gradients::train
