// The loss one training micro-batch contributes: mean next-token cross-entropy over the positions
// that predict a label, scaled for the whole optimizer step. Differentiable in whatever the model
// trains (its parameters, or its LoRA adapters).
#pragma once

#include <ATen/ATen.h>

#include "trainers/causal_lm.h"
#include "text/training_batches.h"

namespace gradients::train {

// sum of the cross-entropies of `batch`'s predicted tokens / `normalizer` (the predicted tokens of
// every micro-batch of the optimizer step, so that accumulated gradients equal one large batch's).
// Packed batches keep attention and positions inside each document. Runs on the model's device.
at::Tensor TrainingLoss(CausalLm& model, const text::TrainingBatch& batch, double normalizer, bool checkpoint_layers = false);

}  // namespace gradients::train
