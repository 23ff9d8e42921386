// The fused CUDA kernels (trainers/fused_ops.h) against the ATen operations they replace, forward
// and backward. Built only with a CUDA libtorch; each test needs a GPU and is skipped without one.
#include "trainers/fused_ops.h"

#include <gtest/gtest.h>
#include <torch/cuda.h>
#include <torch/types.h>

#include "trainers/causal_lm.h"
#include "trainers/model_loader.h"

namespace gradients::train {
namespace {

const std::filesystem::path kModels = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models";

#define SKIP_WITHOUT_A_GPU() \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no GPU on this machine"

double MaxDifference(const at::Tensor& a, const at::Tensor& b) {
  return (a.to(at::kFloat) - b.to(at::kFloat)).abs().max().item<double>();
}

struct RopeCase {
  int64_t heads, kv_heads, head_dim;
  at::ScalarType dtype;
};

// q, k, v with RoPE applied by the unfused path (split, ApplyRope) and the fused kernel, on rows
// whose positions differ (packed documents), with their gradients for one random upstream gradient.
void ExpectFusedRopeEqualsTheUnfusedOne(const RopeCase& c) {
  torch::manual_seed(11);
  const int64_t batch = 2, seq = 7, width = (c.heads + 2 * c.kv_heads) * c.head_dim;
  const auto options = torch::TensorOptions().device(torch::kCUDA).dtype(c.dtype);
  const at::Tensor qkv = torch::randn({batch, seq, width}, options);
  ModelConfig config;
  config.head_dim = c.head_dim;
  config.rope_theta = 100.0;
  const at::Tensor positions =
      torch::tensor({0, 1, 2, 3, 0, 1, 2, 5, 6, 7, 8, 9, 10, 11}, torch::kLong).view({batch, seq}).to(torch::kCUDA);
  const RopeTables rope = ComputeRope(RopeInverseFrequencies(config, torch::kCUDA), positions, c.dtype);
  const std::vector<at::Tensor> upstream = {torch::randn({batch, c.heads, seq, c.head_dim}, options),
                                            torch::randn({batch, c.kv_heads, seq, c.head_dim}, options),
                                            torch::randn({batch, c.kv_heads, seq, c.head_dim}, options)};

  const at::Tensor unfused_input = qkv.clone().requires_grad_(true);
  const std::vector<at::Tensor> parts =
      unfused_input.split_with_sizes({c.heads * c.head_dim, c.kv_heads * c.head_dim, c.kv_heads * c.head_dim}, -1);
  const std::vector<at::Tensor> unfused = {
      ApplyRope(parts[0].view({batch, seq, c.heads, c.head_dim}).transpose(1, 2), rope),
      ApplyRope(parts[1].view({batch, seq, c.kv_heads, c.head_dim}).transpose(1, 2), rope),
      parts[2].view({batch, seq, c.kv_heads, c.head_dim}).transpose(1, 2)};
  ((unfused[0] * upstream[0]).sum() + (unfused[1] * upstream[1]).sum() + (unfused[2] * upstream[2]).sum()).backward();

  const at::Tensor fused_input = qkv.clone().requires_grad_(true);
  const std::array<at::Tensor, 3> fused = FusedRopeQkv(fused_input, rope, c.heads, c.kv_heads, c.head_dim);
  ((fused[0] * upstream[0]).sum() + (fused[1] * upstream[1]).sum() + (fused[2] * upstream[2]).sum()).backward();

  // float32: the same arithmetic up to rounding order; bfloat16: the fused kernel rounds once
  // where the unfused path rounds twice, so the two differ by up to about one rounding step.
  const double tolerance = c.dtype == at::kFloat ? 1e-5 : 0.05;
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(fused[i].sizes(), unfused[i].sizes()) << "output " << i;
    EXPECT_LE(MaxDifference(fused[i], unfused[i]), tolerance) << "output " << i;
  }
  EXPECT_LE(MaxDifference(fused_input.grad(), unfused_input.grad()), tolerance);
}

TEST(FusedKernels, RopeOnTheJointQkvOutputEqualsTheUnfusedRotationForwardAndBackward) {
  SKIP_WITHOUT_A_GPU();
  ASSERT_TRUE(FusedKernelsApply(torch::zeros({1}, torch::kCUDA)));
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16, at::kHalf}) {
    SCOPED_TRACE(c10::toString(dtype));
    ExpectFusedRopeEqualsTheUnfusedOne({4, 2, 16, dtype});  // 16-byte accesses, grouped queries
    ExpectFusedRopeEqualsTheUnfusedOne({3, 3, 6, dtype});   // half of 3: one element at a time
  }
}

TEST(FusedKernels, SwiGluEqualsSiluOfTheGateTimesUpForwardAndBackward) {
  SKIP_WITHOUT_A_GPU();
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    for (int64_t width : {64, 5}) {
      SCOPED_TRACE(std::string(c10::toString(dtype)) + " width " + std::to_string(width));
      torch::manual_seed(5);
      const auto options = torch::TensorOptions().device(torch::kCUDA).dtype(dtype);
      const at::Tensor gate_up = torch::randn({3, 4, 2 * width}, options) * 3;
      const at::Tensor upstream = torch::randn({3, 4, width}, options);

      const at::Tensor unfused_input = gate_up.clone().requires_grad_(true);
      const at::Tensor unfused = at::silu(unfused_input.narrow(-1, 0, width)) * unfused_input.narrow(-1, width, width);
      (unfused * upstream).sum().backward();

      const at::Tensor fused_input = gate_up.clone().requires_grad_(true);
      const at::Tensor fused = FusedSwiGlu(fused_input);
      (fused * upstream).sum().backward();

      // bfloat16: the fused kernel rounds once where ATen rounds silu(gate) and then the product,
      // so the two may differ by a rounding step of the output's magnitude (8 bits of mantissa).
      const double relative = dtype == at::kFloat ? 1e-5 : 1.0 / 64;
      ASSERT_EQ(fused.sizes(), unfused.sizes());
      EXPECT_TRUE(at::allclose(fused.to(at::kFloat), unfused.to(at::kFloat), relative, relative))
          << MaxDifference(fused, unfused);
      EXPECT_TRUE(
          at::allclose(fused_input.grad().to(at::kFloat), unfused_input.grad().to(at::kFloat), relative, relative))
          << MaxDifference(fused_input.grad(), unfused_input.grad());
    }
  }
}

// The whole training step (the fused kernels among the GPU's paths) against the CPU's, in float32.
TEST(FusedKernels, ATrainingStepOnTheGpuGivesTheCpusLossAndGradients) {
  SKIP_WITHOUT_A_GPU();
  for (const char* name : {"llama_gqa_tied_theta", "qwen2"}) {
    SCOPED_TRACE(name);
    const at::Tensor ids = torch::tensor({{5, 9, 17, 3, 44, 7, 2, 81}, {66, 12, 1, 30, 8, 19, 4, 27}}, torch::kLong);
    std::vector<at::Tensor> losses, gradients;
    for (const torch::Device device : {torch::Device(torch::kCPU), torch::Device(torch::kCUDA)}) {
      CausalLm model = std::move(LoadCausalLm(kModels / name)).value();
      model->to(device);
      model->train();
      const at::Tensor input = ids.to(device);
      const at::Tensor logits = model->forward(input);
      const at::Tensor loss = at::cross_entropy_loss(logits.narrow(1, 0, 7).reshape({-1, logits.size(-1)}),
                                                     input.narrow(1, 1, 7).reshape({-1}));
      loss.backward();
      losses.push_back(loss.cpu());
      std::vector<at::Tensor> grads;
      for (const at::Tensor& parameter : model->parameters()) grads.push_back(parameter.grad().cpu().flatten());
      gradients.push_back(at::cat(grads));
    }
    EXPECT_NEAR(losses[1].item<double>(), losses[0].item<double>(), 1e-5 * losses[0].item<double>());
    const double scale = gradients[0].abs().max().item<double>();
    EXPECT_LE(MaxDifference(gradients[1], gradients[0]), 1e-4 * scale);
  }
}

}  // namespace
}  // namespace gradients::train
