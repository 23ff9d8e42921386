#include "trainers/rope.h"

#include <cmath>

#include <ATen/core/grad_mode.h>
#include <torch/autograd.h>

namespace gradients::train {

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

namespace {

// rotate_half(x) = cat(-x2, x1) over the last dimension's halves, or its transpose cat(x2, -x1),
// written in one pass.
at::Tensor RotateHalf(const at::Tensor& x, bool transposed) {
  const int64_t half = x.size(-1) / 2;
  at::Tensor rotated = at::empty_like(x);
  const at::Tensor first = x.narrow(-1, 0, half), second = x.narrow(-1, half, half);
  at::Tensor out_first = rotated.narrow(-1, 0, half), out_second = rotated.narrow(-1, half, half);
  if (transposed) {
    out_first.copy_(second);
    at::neg_out(out_second, first);
  } else {
    at::neg_out(out_first, second);
    out_second.copy_(first);
  }
  return rotated;
}

// The rotation with a backward pass of its own, x' = x cos + R x sin, dx = g cos + R^T (g sin):
// three passes each way, where autograd through cat, neg and the slices takes twice as many and
// allocates zero-filled gradients for each half. Each product is rounded once (addcmul), where
// transformers rounds x cos and R x sin before adding them; this is for training only.
class RopeFunction : public torch::autograd::Function<RopeFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& x, const at::Tensor& cos,
                            const at::Tensor& sin) {
    context->save_for_backward({cos, sin});
    return at::addcmul(x * cos, RotateHalf(x, false), sin);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = context->get_saved_variables();
    const at::Tensor& grad = grad_outputs[0];
    return {at::addcmul(RotateHalf(grad * saved[1], true), grad, saved[0]), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor ApplyRope(const at::Tensor& x, const RopeTables& rope) {
  if (at::GradMode::is_enabled() && x.requires_grad()) return RopeFunction::apply(x, rope.cos, rope.sin);
  const int64_t half = x.size(-1) / 2;
  at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * rope.cos + rotated * rope.sin;
}

}  // namespace gradients::train
