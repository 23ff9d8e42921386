#include "trainers/linear_cross_entropy.h"

#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/types.h>

namespace gradients::train {
namespace {

// The plain computation the fused one replaces: logits, float32 cross-entropy summed / normalizer.
at::Tensor PlainLoss(const at::Tensor& hidden, const at::Tensor& weight, const at::Tensor& targets, double normalizer) {
  at::Tensor logits = at::matmul(hidden, weight.t()).to(at::kFloat);
  return torch::nn::functional::cross_entropy(logits, targets,
                                              torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)) /
         normalizer;
}

TEST(LinearCrossEntropy, EqualsCrossEntropyOfTheFullLogitsInLossAndGradients) {
  torch::manual_seed(3);
  const at::Tensor hidden_init = torch::randn({37, 16});
  const at::Tensor weight_init = torch::randn({50, 16}) * 0.3;
  const at::Tensor targets = torch::randint(0, 50, {37}, torch::kLong);
  // Chunks of 4 rows (200 logits), so the last chunk is partial.
  for (int64_t chunk_logits : {int64_t{200}, int64_t{1} << 22}) {
    at::Tensor h1 = hidden_init.clone().requires_grad_(true), w1 = weight_init.clone().requires_grad_(true);
    at::Tensor h2 = hidden_init.clone().requires_grad_(true), w2 = weight_init.clone().requires_grad_(true);
    at::Tensor fused = LinearCrossEntropy(h1, w1, targets, 41.0, {.chunk_logits = chunk_logits});
    at::Tensor plain = PlainLoss(h2, w2, targets, 41.0);
    (fused * 3).backward();
    (plain * 3).backward();
    EXPECT_NEAR(fused.item<double>(), plain.item<double>(), 1e-5);
    EXPECT_TRUE(torch::allclose(h1.grad(), h2.grad(), 1e-5, 1e-7)) << chunk_logits;
    EXPECT_TRUE(torch::allclose(w1.grad(), w2.grad(), 1e-5, 1e-7)) << chunk_logits;
  }
}

TEST(LinearCrossEntropy, AFrozenWeightGetsNoGradient) {
  at::Tensor hidden = torch::randn({5, 8}).requires_grad_(true);
  at::Tensor weight = torch::randn({11, 8});
  LinearCrossEntropy(hidden, weight, torch::tensor({1, 2, 3, 4, 5}, torch::kLong), 5.0).backward();
  EXPECT_TRUE(hidden.grad().defined());
  EXPECT_FALSE(weight.grad().defined());
}

}  // namespace
}  // namespace gradients::train
