// Evaluation: the loss the validator ranks submissions by.
#pragma once

#include <span>

#include "trainers/causal_lm.h"
#include "text/dataset.h"

namespace gradients::train {

struct EvalOptions {
  // Documents are batched (right-padded) up to this many padded tokens per forward pass.
  int64_t max_batch_tokens = 2048;
};

struct EvalResult {
  double loss = 0;         // mean next-token cross-entropy over every predicted, unmasked token
  int64_t tokens = 0;      // how many tokens were predicted (labels[i] != -100 for i >= 1)
  int64_t documents = 0;   // how many documents were evaluated
};

// Each document is evaluated on its own (no attention across documents) and the loss is
// token-weighted across documents: what transformers computes with `labels` per document,
// summed over documents. Deterministic on CPU for the same inputs. InvalidArgument for ids
// outside the vocabulary, labels and ids of different lengths, or nothing to predict.
common::Result<EvalResult> EvaluateLoss(CausalLm& model, std::span<const text::TokenizedExample> examples,
                                const EvalOptions& options = {});

}  // namespace gradients::train
