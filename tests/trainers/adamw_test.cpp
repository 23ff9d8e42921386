#include "trainers/adamw.h"

#include <gtest/gtest.h>
#include <torch/optim/adamw.h>
#include <torch/types.h>

namespace gradients::train {
namespace {

// Five steps of ours and of libtorch's own torch::optim::AdamW on the same gradients.
void ExpectSameAsLibtorch(bool contiguous_float) {
  torch::manual_seed(1);
  at::Tensor initial = torch::randn({33, 7});
  at::Tensor ours = initial.clone().requires_grad_(true);
  at::Tensor theirs = initial.clone().requires_grad_(true);
  if (!contiguous_float) {
    // The per-tensor path (what non-float32 or non-contiguous parameters take).
    ours = initial.t().clone().t().requires_grad_(true);
  }
  AdamW optimizer({ParameterGroup{.names = {"w"}, .parameters = {ours}, .weight_decay = 0.1}},
                  AdamWOptions{.beta1 = 0.8, .beta2 = 0.95, .epsilon = 1e-6});
  torch::optim::AdamW reference({theirs},
                                torch::optim::AdamWOptions(0.01).betas({0.8, 0.95}).eps(1e-6).weight_decay(0.1));
  for (int step = 0; step < 5; ++step) {
    at::Tensor grad = torch::randn({33, 7});
    ours.mutable_grad() = grad.clone();
    theirs.mutable_grad() = grad.clone();
    optimizer.Step(0.01);
    reference.step();
  }
  EXPECT_EQ(optimizer.steps(), 5);
  EXPECT_TRUE(torch::allclose(ours, theirs, 1e-5, 1e-7)) << (ours - theirs).abs().max().item<double>();
}

TEST(AdamW, TheFusedCpuPassMatchesLibtorchsAdamW) { ExpectSameAsLibtorch(true); }

TEST(AdamW, ThePerTensorPathMatchesLibtorchsAdamW) { ExpectSameAsLibtorch(false); }

TEST(AdamW, GroupsScaleTheLearningRateAndParametersWithoutGradientsStay) {
  at::Tensor a = torch::zeros({3}).requires_grad_(true);
  at::Tensor b = torch::zeros({3}).requires_grad_(true);
  at::Tensor untouched = torch::ones({3}).requires_grad_(true);
  AdamW optimizer({ParameterGroup{.names = {"a", "c"}, .parameters = {a, untouched}},
                   ParameterGroup{.names = {"b"}, .parameters = {b}, .learning_rate_scale = 16}},
                  {});
  a.mutable_grad() = torch::ones({3});
  b.mutable_grad() = torch::ones({3});
  optimizer.Step(0.001);
  // The first Adam step moves each weight by lr (m / sqrt(v) = 1 after bias correction).
  EXPECT_NEAR(a[0].item<double>(), -0.001, 1e-7);
  EXPECT_NEAR(b[0].item<double>(), -0.016, 1e-6);
  EXPECT_TRUE(torch::equal(untouched, torch::ones({3})));
}

TEST(AdamW, StateRoundTripsAndResumesExactly) {
  torch::manual_seed(2);
  at::Tensor first = torch::randn({4, 4}).requires_grad_(true);
  at::Tensor second = first.detach().clone().requires_grad_(true);
  AdamW one({ParameterGroup{.names = {"w"}, .parameters = {first}}}, {});
  std::vector<at::Tensor> grads = {torch::randn({4, 4}), torch::randn({4, 4}), torch::randn({4, 4})};
  for (const at::Tensor& grad : grads) {
    first.mutable_grad() = grad.clone();
    one.Step(0.1);
  }
  // The second optimizer takes two steps, hands its state over, and a third one finishes.
  AdamW two({ParameterGroup{.names = {"w"}, .parameters = {second}}}, {});
  for (size_t i = 0; i < 2; ++i) {
    second.mutable_grad() = grads[i].clone();
    two.Step(0.1);
  }
  AdamW three({ParameterGroup{.names = {"w"}, .parameters = {second}}}, {});
  ASSERT_TRUE(three.LoadState(two.StateTensors(), two.steps()).ok());
  second.mutable_grad() = grads[2].clone();
  three.Step(0.1);
  EXPECT_TRUE(torch::equal(first, second));

  EXPECT_EQ(three.LoadState({}, 2).message(), "optimizer state lacks \"w.exp_avg\"");
}

}  // namespace
}  // namespace gradients::train
