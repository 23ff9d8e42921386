// The training loss: next-token cross-entropy fused with the output projection. Logits are formed
// a chunk of positions at a time, and each chunk's gradients are computed in the forward pass and
// kept instead of the logits: memory holds one [chunk, vocab] block rather than the
// [tokens, vocab] logits, their float32 copy and their softmax, which for a 32k vocabulary exceed
// the rest of a small model's activations.
#pragma once

#include <ATen/ATen.h>

namespace gradients::train {

struct LinearCrossEntropyOptions {
  // Positions per chunk: about this many logits are alive at once.
  int64_t chunk_logits = int64_t{1} << 22;
};

// sum over rows of cross_entropy(hidden[i] W^T, targets[i]) / normalizer, differentiable in
// `hidden` [n, h] and `weight` [vocab, h] (when it requires grad). `targets` [n] are class ids (no
// ignored entries: select the predicted positions first). The logits are computed in hidden's
// dtype and reduced in float32, as transformers upcasts them before the loss. `normalizer` is the
// number of predicted tokens over the whole optimizer step, so that gradient accumulation gives
// the same gradient as one large batch.
at::Tensor LinearCrossEntropy(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets,
                              double normalizer, const LinearCrossEntropyOptions& options = {});

}  // namespace gradients::train
