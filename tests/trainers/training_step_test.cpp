// One training step (forward and backward, LoRA and full) against the independent PyTorch
// reference (tests/data/training/make_training_fixtures.py): loss and every gradient.
#include <gtest/gtest.h>
#include <torch/types.h>

#include "common/config.h"
#include "trainers/lora_adapter.h"
#include "trainers/lora_training.h"
#include "trainers/model_loader.h"
#include "trainers/train_checkpoint.h"
#include "trainers/training_loss.h"

namespace gradients::train {
namespace {

const std::filesystem::path kData = std::filesystem::path(GRADIENTS_TEST_DATA_DIR);

text::TrainingBatch ReadBatch(const std::string& name) {
  nlohmann::json json = *common::ReadJsonFile(kData / "training" / name / "batch.json");
  text::TrainingBatch batch;
  batch.rows = static_cast<int64_t>(json["ids"].size());
  batch.columns = static_cast<int64_t>(json["ids"][0].size());
  for (const auto& row : json["ids"])
    for (const auto& id : row) batch.input_ids.push_back(id.get<int64_t>());
  for (const auto& row : json["labels"]) {
    for (size_t i = 0; i < row.size(); ++i) {
      batch.labels.push_back(row[i].get<int64_t>());
      if (i >= 1 && row[i].get<int64_t>() != text::kIgnoredLabel) ++batch.predicted_tokens;
    }
  }
  batch.tokens = batch.rows * batch.columns;
  return batch;
}

void ExpectClose(const at::Tensor& actual, const at::Tensor& expected, const std::string& name) {
  ASSERT_TRUE(actual.defined()) << name << " has no gradient";
  ASSERT_EQ(actual.sizes(), expected.sizes()) << name;
  const double scale = expected.abs().max().item<double>();
  const double error = (actual - expected).abs().max().item<double>();
  EXPECT_LE(error, 1e-5 + 1e-4 * scale) << name << ": max error " << error << " (max magnitude " << scale << ")";
}

class TrainingStep : public testing::TestWithParam<std::string> {};

TEST_P(TrainingStep, FullFineTuningLossAndGradientsEqualTheReference) {
  const std::string name = GetParam();
  CausalLm model = *LoadCausalLm(kData / "models" / name);
  model->train();
  text::TrainingBatch batch = ReadBatch(name);
  at::Tensor loss = TrainingLoss(model, batch, static_cast<double>(batch.predicted_tokens));
  loss.backward();
  NamedTensors expected = *ReadTensorFile(kData / "training" / name / "expected_full.safetensors");
  EXPECT_NEAR(loss.item<double>(), expected.at("loss").item<double>(), 1e-5);
  size_t compared = 0;
  for (const auto& item : model->named_parameters()) {
    ASSERT_TRUE(expected.contains(item.key())) << item.key();
    ExpectClose(item.value().grad(), expected.at(item.key()), item.key());
    ++compared;
  }
  EXPECT_EQ(compared + 1, expected.size());
}

TEST_P(TrainingStep, LoraLossAndGradientsEqualTheReference) {
  const std::string name = GetParam();
  CausalLm model = *LoadCausalLm(kData / "models" / name);
  model->train();
  LoraAdapter adapter = *LoadLoraAdapter(kData / "training" / name / "adapter");
  ASSERT_TRUE(AttachLoraWeights(model, adapter, 0.0, at::detail::createCPUGenerator(0)).ok());
  text::TrainingBatch batch = ReadBatch(name);
  at::Tensor loss = TrainingLoss(model, batch, static_cast<double>(batch.predicted_tokens));
  loss.backward();
  NamedTensors expected = *ReadTensorFile(kData / "training" / name / "expected_lora.safetensors");
  EXPECT_NEAR(loss.item<double>(), expected.at("loss").item<double>(), 1e-5);
  auto projections = LoraProjections(model);
  ASSERT_EQ(projections.size() * 2 + 1, expected.size());
  for (auto& [path, projection] : projections) {
    ExpectClose(projection->lora.a.grad(), expected.at(path + ".lora_A"), path + ".lora_A");
    ExpectClose(projection->lora.b.grad(), expected.at(path + ".lora_B"), path + ".lora_B");
  }
  // The base model is frozen.
  for (const at::Tensor& parameter : model->parameters()) EXPECT_FALSE(parameter.grad().defined());
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TrainingStep,
                         testing::Values("llama_gqa_tied_theta", "qwen2", "llama_head_dim_bias"));

TEST(TrainingStep, ActivationCheckpointingGivesTheSameGradients) {
  const std::string name = "llama_gqa_tied_theta";
  text::TrainingBatch batch = ReadBatch(name);
  std::vector<std::map<std::string, at::Tensor>> runs;
  for (bool checkpoint : {false, true}) {
    CausalLm model = *LoadCausalLm(kData / "models" / name);
    model->train();
    LoraAdapter adapter = *LoadLoraAdapter(kData / "training" / name / "adapter");
    // Dropout on: the recomputation must draw the very same masks.
    ASSERT_TRUE(AttachLoraWeights(model, adapter, 0.3, at::detail::createCPUGenerator(7)).ok());
    TrainingLoss(model, batch, static_cast<double>(batch.predicted_tokens), checkpoint).backward();
    std::map<std::string, at::Tensor> grads;
    for (auto& [path, projection] : LoraProjections(model)) grads[path] = projection->lora.a.grad().clone();
    runs.push_back(grads);
  }
  ASSERT_EQ(runs[0].size(), runs[1].size());
  for (const auto& [path, grad] : runs[0]) {
    EXPECT_TRUE(torch::allclose(grad, runs[1][path], 1e-5, 1e-6)) << path;
  }
}

TEST(TrainingStep, AccumulatedMicroBatchesEqualOneBatch) {
  const std::string name = "qwen2";
  text::TrainingBatch whole = ReadBatch(name);
  auto row = [&](int64_t r) {
    text::TrainingBatch part;
    part.rows = 1;
    part.columns = whole.columns;
    auto begin = static_cast<std::ptrdiff_t>(r * whole.columns), end = begin + whole.columns;
    part.input_ids.assign(whole.input_ids.begin() + begin, whole.input_ids.begin() + end);
    part.labels.assign(whole.labels.begin() + begin, whole.labels.begin() + end);
    return part;
  };
  CausalLm one = *LoadCausalLm(kData / "models" / name);
  TrainingLoss(one, whole, static_cast<double>(whole.predicted_tokens)).backward();
  CausalLm accumulated = *LoadCausalLm(kData / "models" / name);
  for (int64_t r = 0; r < 2; ++r) {
    TrainingLoss(accumulated, row(r), static_cast<double>(whole.predicted_tokens)).backward();
  }
  auto expected = one->named_parameters();
  for (const auto& item : accumulated->named_parameters()) {
    EXPECT_TRUE(torch::allclose(item.value().grad(), expected[item.key()].grad(), 1e-5, 1e-6)) << item.key();
  }
}

}  // namespace
}  // namespace gradients::train
