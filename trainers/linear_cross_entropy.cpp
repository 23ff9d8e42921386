#include "trainers/linear_cross_entropy.h"

#include <algorithm>

#include <torch/autograd.h>

namespace gradients::train {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class LinearCrossEntropyFunction : public torch::autograd::Function<LinearCrossEntropyFunction> {
 public:
  static at::Tensor forward(AutogradContext* context, const at::Tensor& hidden, const at::Tensor& weight,
                            const at::Tensor& targets, double normalizer, int64_t chunk_rows) {
    const bool weight_grad = weight.requires_grad();
    const at::Tensor compute_weight =
        weight.scalar_type() == hidden.scalar_type() ? weight : weight.to(hidden.scalar_type());
    const int64_t rows = hidden.size(0);
    at::Tensor grad_hidden = at::empty_like(hidden);
    at::Tensor grad_weight = weight_grad ? at::zeros_like(weight) : at::Tensor();
    at::Tensor loss = at::zeros({}, hidden.options().dtype(at::kFloat));
    for (int64_t start = 0; start < rows; start += chunk_rows) {
      const int64_t n = std::min(chunk_rows, rows - start);
      at::Tensor h = hidden.narrow(0, start, n);
      at::Tensor t = targets.narrow(0, start, n).unsqueeze(1);
      at::Tensor logits = at::matmul(h, compute_weight.t());
      // Log-probabilities in float32 (transformers upcasts the logits before the loss), in one
      // fused pass over the logits.
      const at::Tensor log_probabilities = at::log_softmax(logits, 1, at::kFloat);
      const at::Tensor target_log_probabilities = log_probabilities.gather(1, t);
      loss.sub_(target_log_probabilities.sum());
      // d loss / d logits = softmax - one_hot(target), written over the logits (no longer needed)
      // in their dtype; the target entries are formed in float32 before rounding, as p - 1 loses
      // most of its digits when p is close to 1. The 1 / normalizer enters the products below.
      at::Tensor grad_logits = at::exp_out(logits, log_probabilities);
      grad_logits.scatter_(1, t, target_log_probabilities.exp().sub_(1.0).to(grad_logits.scalar_type()));
      at::Tensor grad_rows = grad_hidden.narrow(0, start, n);
      at::addmm_out(grad_rows, grad_rows, grad_logits, compute_weight, /*beta=*/0, /*alpha=*/1.0 / normalizer);
      if (!weight_grad) continue;
      if (grad_weight.scalar_type() == h.scalar_type()) {
        grad_weight.addmm_(grad_logits.t(), h, /*beta=*/1, /*alpha=*/1.0 / normalizer);
      } else {  // float32 weights, bfloat16 products
        grad_weight.add_(at::mm(grad_logits.t(), h), 1.0 / normalizer);
      }
    }
    context->saved_data["grad_hidden"] = grad_hidden;
    context->saved_data["grad_weight"] = grad_weight;
    return loss.div_(normalizer);
  }

  static variable_list backward(AutogradContext* context, variable_list grad_outputs) {
    const at::Tensor& scale = grad_outputs[0];
    at::Tensor grad_hidden = context->saved_data["grad_hidden"].toTensor();
    at::Tensor grad_weight = context->saved_data["grad_weight"].toTensor();
    // The loss is the graph's end, so the incoming gradient is 1 and these multiplications are
    // exact; they keep the function correct when it is scaled or summed with other terms.
    grad_hidden = grad_hidden * scale.to(grad_hidden.scalar_type());
    if (grad_weight.defined()) grad_weight = grad_weight * scale.to(grad_weight.scalar_type());
    return {grad_hidden, grad_weight, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor LinearCrossEntropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                              double normalizer, const LinearCrossEntropyOptions& options) {
  const int64_t chunk_rows = std::max<int64_t>(1, options.chunk_logits / weight.size(0));
  return LinearCrossEntropyFunction::apply(hidden, weight, targets, normalizer, chunk_rows);
}

}  // namespace gradients::train
