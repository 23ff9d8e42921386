#include "trainers/rope.h"

#include <cmath>

namespace gradients {

at::Tensor RopeInverseFrequencies(const ModelConfig& config, const at::Device& device) {
  const int64_t dim = config.head_dim;
  auto exponents = at::arange(0, dim, 2, at::TensorOptions().dtype(at::kLong)).to(at::kFloat) / static_cast<double>(dim);
  at::Tensor inv_freq = 1.0 / at::pow(config.rope_theta, exponents);
  const RopeScaling& scaling = config.rope_scaling;
  if (scaling.type == "linear") {
    inv_freq = inv_freq / scaling.factor;
  } else if (scaling.type == "llama3") {
    // transformers' _compute_llama3_parameters: long wavelengths are scaled down by `factor`, short
    // ones kept, and the band between them interpolated smoothly.
    double old_context = static_cast<double>(scaling.original_max_position_embeddings);
    double low_freq_wavelen = old_context / scaling.low_freq_factor;
    double high_freq_wavelen = old_context / scaling.high_freq_factor;
    at::Tensor wavelen = 2 * M_PI / inv_freq;
    at::Tensor scaled = at::where(wavelen > low_freq_wavelen, inv_freq / scaling.factor, inv_freq);
    at::Tensor smooth = (old_context / wavelen - scaling.low_freq_factor) /
                        (scaling.high_freq_factor - scaling.low_freq_factor);
    at::Tensor smoothed = (1 - smooth) * scaled / scaling.factor + smooth * scaled;
    at::Tensor medium = (wavelen >= high_freq_wavelen).logical_and(wavelen <= low_freq_wavelen);
    inv_freq = at::where(medium, smoothed, scaled);
  }
  return inv_freq.to(device);
}

RopeTables ComputeRope(const at::Tensor& inverse_frequencies, const at::Tensor& position_ids, at::ScalarType dtype) {
  at::Tensor freqs = position_ids.to(at::kFloat).unsqueeze(-1) * inverse_frequencies.view({1, 1, -1});
  at::Tensor emb = at::cat({freqs, freqs}, -1).unsqueeze(1);
  return {emb.cos().to(dtype), emb.sin().to(dtype)};
}

at::Tensor ApplyRope(const at::Tensor& x, const RopeTables& rope) {
  int64_t half = x.size(-1) / 2;
  at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * rope.cos + rotated * rope.sin;
}

}  // namespace gradients
