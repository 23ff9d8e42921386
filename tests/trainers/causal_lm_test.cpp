// The model against fixtures from the independent PyTorch reference
// (tests/data/models/make_fixtures.py): logits and loss within 1e-4 relative.
#include "trainers/causal_lm.h"

#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/types.h>

#include "common/config.h"
#include "common/safetensors.h"
#include "trainers/model_loader.h"
#include "trainers/tensor_io.h"

namespace gradients::train {
namespace {

const std::filesystem::path kModels = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models";

struct Fixture {
  at::Tensor ids;
  at::Tensor logits;
  double loss = 0;
};

Fixture ReadFixture(const std::string& name) {
  Fixture fixture;
  nlohmann::json expected = *common::ReadJsonFile(kModels / name / "expected.json");
  std::vector<int64_t> flat;
  for (const auto& row : expected["ids"])
    for (const auto& id : row) flat.push_back(id.get<int64_t>());
  fixture.ids = torch::tensor(flat, torch::kLong).view({static_cast<int64_t>(expected["ids"].size()), -1});
  fixture.loss = expected["loss"].get<double>();
  common::SafetensorsFile file = std::move(common::SafetensorsFile::Open(kModels / name / "expected.safetensors")).value();
  fixture.logits = WeightView(file, *file.header().Find("logits"))->clone();
  return fixture;
}

double NextTokenLoss(const at::Tensor& logits, const at::Tensor& ids) {
  at::Tensor predicted = logits.narrow(1, 0, logits.size(1) - 1).reshape({-1, logits.size(-1)}).to(at::kFloat);
  at::Tensor targets = ids.narrow(1, 1, ids.size(1) - 1).reshape({-1});
  return torch::nn::functional::cross_entropy(predicted, targets).item<double>();
}

class ReferenceFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(ReferenceFixture, LogitsAndLossMatchTheReference) {
  common::Result<CausalLm> model = LoadCausalLm(kModels / GetParam());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  Fixture fixture = ReadFixture(GetParam());
  torch::NoGradGuard no_grad;
  at::Tensor logits = (*model)->forward(fixture.ids);
  ASSERT_EQ(logits.sizes(), fixture.logits.sizes());
  double max_difference = (logits - fixture.logits).abs().max().item<double>();
  EXPECT_TRUE(torch::allclose(logits, fixture.logits, 1e-4, 1e-5)) << "max |difference| " << max_difference;
  EXPECT_NEAR(NextTokenLoss(logits, fixture.ids), fixture.loss, 1e-4 * fixture.loss);
}

INSTANTIATE_TEST_SUITE_P(Models, ReferenceFixture,
                         ::testing::Values("llama_mha", "llama_gqa_tied_theta", "llama_head_dim_bias",
                                           "llama_bf16_weights", "llama_rope_linear", "llama_rope_llama3", "mistral",
                                           "qwen2", "llama_sharded"),
                         [](const ::testing::TestParamInfo<std::string>& info) { return info.param; });

TEST(CausalLm, DocumentsPackedInOneRowGiveTheSameLogitsAsAlone) {
  CausalLm model = std::move(LoadCausalLm(kModels / "llama_gqa_tied_theta")).value();
  torch::NoGradGuard no_grad;
  at::Tensor first = torch::tensor({5, 9, 17, 3, 44}, torch::kLong).unsqueeze(0);
  at::Tensor second = torch::tensor({7, 2, 81, 66}, torch::kLong).unsqueeze(0);
  at::Tensor packed = torch::cat({first, second}, 1);
  ForwardOptions options;
  options.document_ids = torch::tensor({0, 0, 0, 0, 0, 1, 1, 1, 1}, torch::kLong).unsqueeze(0);
  options.position_ids = torch::tensor({0, 1, 2, 3, 4, 0, 1, 2, 3}, torch::kLong).unsqueeze(0);
  at::Tensor logits = model->forward(packed, options);
  EXPECT_TRUE(torch::allclose(logits.narrow(1, 0, 5), model->forward(first), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(logits.narrow(1, 5, 4), model->forward(second), 1e-5, 1e-6));
}

TEST(CausalLm, IncrementalDecodingWithACacheEqualsTheFullForward) {
  CausalLm model = std::move(LoadCausalLm(kModels / "qwen2")).value();
  torch::NoGradGuard no_grad;
  at::Tensor ids = torch::tensor({3, 14, 15, 92, 65, 35, 89, 79}, torch::kLong).unsqueeze(0);
  at::Tensor full = model->forward(ids);
  KvCache cache;
  at::Tensor prefix = model->forward(ids.narrow(1, 0, 5), {.cache = &cache});
  std::vector<at::Tensor> steps = {prefix};
  for (int64_t i = 5; i < 8; ++i) steps.push_back(model->forward(ids.narrow(1, i, 1), {.cache = &cache}));
  EXPECT_EQ(cache.length(), 8);
  EXPECT_TRUE(torch::allclose(torch::cat(steps, 1), full, 1e-5, 1e-6));
}

TEST(CausalLm, SlidingWindowLimitsHowFarBackAPositionSees) {
  at::Tensor mask = AttentionMask(5, 0, 2, {}, at::kCPU).squeeze();
  at::Tensor expected = torch::tensor({1, 0, 0, 0, 0,  //
                                       1, 1, 0, 0, 0,  //
                                       0, 1, 1, 0, 0,  //
                                       0, 0, 1, 1, 0,  //
                                       0, 0, 0, 1, 1},
                                      torch::kBool)
                            .view({5, 5});
  EXPECT_TRUE(torch::equal(mask, expected));
}

}  // namespace
}  // namespace gradients::train

namespace gradients::train {
namespace {

// The norm's own backward pass against autograd through transformers' formula.
TEST(RmsNorm, ItsBackwardPassEqualsAutogradThroughTheFormula) {
  torch::manual_seed(4);
  RmsNorm norm(16, 1e-6);
  {
    torch::NoGradGuard no_grad;
    norm->weight.copy_(1.0 + 0.3 * torch::randn({16}));
  }
  const at::Tensor input = torch::randn({3, 5, 16}) * 2;
  const at::Tensor upstream = torch::randn({3, 5, 16});

  at::Tensor x1 = input.clone().requires_grad_(true);
  at::Tensor y1 = norm(x1);
  (y1 * upstream).sum().backward();
  const at::Tensor weight_grad = norm->weight.grad().clone();

  at::Tensor x2 = input.clone().requires_grad_(true);
  at::Tensor w2 = norm->weight.detach().clone().requires_grad_(true);
  at::Tensor y2 = w2 * (x2 * at::rsqrt(x2.pow(2).mean(-1, true) + 1e-6));
  (y2 * upstream).sum().backward();

  EXPECT_TRUE(torch::allclose(y1, y2, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(x1.grad(), x2.grad(), 1e-5, 1e-6)) << (x1.grad() - x2.grad()).abs().max().item<double>();
  EXPECT_TRUE(torch::allclose(weight_grad, w2.grad(), 1e-5, 1e-6));
}

}  // namespace
}  // namespace gradients::train

namespace gradients::train {
namespace {

TEST(Mlp, ItsSwiGluBackwardEqualsAutogradThroughSiluAndProduct) {
  torch::manual_seed(5);
  ModelConfig config;
  config.hidden_size = 8;
  config.intermediate_size = 12;
  Mlp mlp(config);
  const at::Tensor input = torch::randn({2, 3, 8});
  const at::Tensor upstream = torch::randn({2, 3, 8});

  at::Tensor x1 = input.clone().requires_grad_(true);
  (mlp(x1) * upstream).sum().backward();
  const at::Tensor gate_grad = mlp->gate_proj->weight.grad().clone();

  mlp->zero_grad();
  at::Tensor x2 = input.clone().requires_grad_(true);
  at::Tensor unfused = mlp->down_proj(torch::silu(at::linear(x2, mlp->gate_proj->weight)) *
                                      at::linear(x2, mlp->up_proj->weight));
  (unfused * upstream).sum().backward();

  EXPECT_TRUE(torch::allclose(x1.grad(), x2.grad(), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(gate_grad, mlp->gate_proj->weight.grad(), 1e-5, 1e-6));
}

}  // namespace
}  // namespace gradients::train

namespace gradients::train {
namespace {

// Random LoRA tensors on a projection (B nonzero, so the update shows).
void AttachRandomLora(ProjectionImpl& projection, int64_t rank, double scale) {
  projection.lora.a = torch::randn({rank, projection.weight.size(1)}).requires_grad_(true);
  projection.lora.b = torch::randn({projection.weight.size(0), rank}).requires_grad_(true);
  projection.lora.scale = scale;
}

TEST(ProjectJointly, EqualsTheProjectionsOneByOneInOutputsAndGradients) {
  torch::manual_seed(6);
  // q and v carry adapters of different ranks and scales, k none (its block has no columns);
  // all three have biases, as Qwen2's.
  Projection q(8, 12, true), k(8, 4, true), v(8, 4, true);
  AttachRandomLora(*q, 2, 2.0);
  AttachRandomLora(*v, 3, 0.5);
  const at::Tensor input = torch::randn({2, 3, 8});
  const at::Tensor upstream = torch::randn({6, 20});
  std::vector<at::Tensor> tensors = {q->weight, k->bias, q->lora.a, q->lora.b, v->lora.a, v->lora.b};

  auto gradients = [&](const at::Tensor& output, const at::Tensor& x) {
    (output * upstream).sum().backward();
    std::vector<at::Tensor> grads = {x.grad().clone()};
    for (at::Tensor& tensor : tensors) {
      grads.push_back(tensor.grad().clone());
      tensor.mutable_grad() = at::Tensor();
    }
    return grads;
  };
  at::Tensor x1 = input.clone().requires_grad_(true);
  const at::Tensor joint = ProjectJointly(x1, {q.get(), k.get(), v.get()});
  const std::vector<at::Tensor> joint_grads = gradients(joint, x1);
  at::Tensor x2 = input.clone().requires_grad_(true);
  const at::Tensor separate = at::cat({q(x2), k(x2), v(x2)}, -1).view({6, 20});
  const std::vector<at::Tensor> separate_grads = gradients(separate, x2);

  // The update as PEFT writes it, for one of them.
  const at::Tensor expected_q =
      at::linear(input, q->weight, q->bias) + 2.0 * at::linear(at::linear(input, q->lora.a), q->lora.b);
  EXPECT_TRUE(torch::allclose(joint.narrow(1, 0, 12), expected_q.view({6, 12}), 1e-5, 1e-5));
  EXPECT_TRUE(torch::allclose(joint, separate, 1e-5, 1e-6));
  ASSERT_EQ(joint_grads.size(), separate_grads.size());
  for (size_t i = 0; i < joint_grads.size(); ++i) {
    EXPECT_TRUE(torch::allclose(joint_grads[i], separate_grads[i], 1e-5, 1e-5)) << "gradient " << i;
  }
}

TEST(Rope, ItsBackwardPassEqualsAutogradThroughRotateHalf) {
  torch::manual_seed(8);
  ModelConfig config;
  config.head_dim = 8;
  const RopeTables rope = ComputeRope(RopeInverseFrequencies(config, at::kCPU),
                                      at::arange(5).view({1, 5}).expand({2, 5}), at::kFloat);
  const at::Tensor input = torch::randn({2, 3, 5, 8});
  const at::Tensor upstream = torch::randn({2, 3, 5, 8});

  at::Tensor x1 = input.clone().requires_grad_(true);
  const at::Tensor y1 = ApplyRope(x1, rope);
  (y1 * upstream).sum().backward();

  at::Tensor x2 = input.clone().requires_grad_(true);
  const at::Tensor rotated = at::cat({-x2.narrow(-1, 4, 4), x2.narrow(-1, 0, 4)}, -1);
  const at::Tensor y2 = x2 * rope.cos + rotated * rope.sin;
  (y2 * upstream).sum().backward();

  EXPECT_TRUE(torch::allclose(y1, y2, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(x1.grad(), x2.grad(), 1e-5, 1e-6));
  // Without gradients the rotation is transformers' expression itself.
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(ApplyRope(input, rope), input * rope.cos + at::cat({-input.narrow(-1, 4, 4),
                                                                                input.narrow(-1, 0, 4)}, -1) *
                                                                          rope.sin));
}

}  // namespace
}  // namespace gradients::train
