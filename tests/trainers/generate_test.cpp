#include "trainers/generate.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include "trainers/model_loader.h"

namespace gradients::train {
namespace {

const std::filesystem::path kModels = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models";

TEST(Generate, GreedyWithACacheEqualsArgmaxOverFullForwards) {
  CausalLm model = std::move(LoadCausalLm(kModels / "qwen2")).value();
  std::vector<int32_t> prompt = {1, 17, 33, 5};
  GenerateOptions options;
  options.max_new_tokens = 8;
  options.stop_ids = {-1};  // never stop early
  std::vector<int32_t> generated = *Generate(model, prompt, options);
  ASSERT_EQ(generated.size(), 8u);
  std::vector<int64_t> sequence(prompt.begin(), prompt.end());
  torch::NoGradGuard no_grad;
  for (int32_t token : generated) {
    at::Tensor logits = model->forward(torch::tensor(sequence, torch::kLong).unsqueeze(0));
    EXPECT_EQ(logits[0][-1].argmax().item<int64_t>(), token);
    sequence.push_back(token);
  }
}

TEST(Generate, StopsAfterAStopToken) {
  CausalLm model = std::move(LoadCausalLm(kModels / "llama_mha")).value();
  GenerateOptions options;
  options.max_new_tokens = 5;
  options.stop_ids = {-1};
  std::vector<int32_t> free_run = *Generate(model, std::vector<int32_t>{1, 2, 3}, options);
  options.stop_ids = {free_run[1]};
  std::vector<int32_t> stopped = *Generate(model, std::vector<int32_t>{1, 2, 3}, options);
  EXPECT_LE(stopped.size(), 2u);
  EXPECT_EQ(stopped.back(), free_run[1]);
}

TEST(Generate, SamplingIsReproducibleForASeedAndVariesAcrossSeeds) {
  CausalLm model = std::move(LoadCausalLm(kModels / "llama_mha")).value();
  GenerateOptions options;
  options.max_new_tokens = 12;
  options.temperature = 1.5;
  options.stop_ids = {-1};
  options.seed = 7;
  std::vector<int32_t> first = *Generate(model, std::vector<int32_t>{1, 9}, options);
  EXPECT_EQ(first, *Generate(model, std::vector<int32_t>{1, 9}, options));
  options.seed = 8;
  EXPECT_NE(first, *Generate(model, std::vector<int32_t>{1, 9}, options));
}

TEST(Generate, TinyTopPKeepsOnlyTheMostLikelyToken) {
  CausalLm model = std::move(LoadCausalLm(kModels / "llama_mha")).value();
  GenerateOptions greedy;
  greedy.max_new_tokens = 6;
  greedy.stop_ids = {-1};
  GenerateOptions nucleus = greedy;
  nucleus.temperature = 1.0;
  nucleus.top_p = 1e-6;
  EXPECT_EQ(*Generate(model, std::vector<int32_t>{4, 8}, greedy), *Generate(model, std::vector<int32_t>{4, 8}, nucleus));
}

TEST(Generate, RejectsBadInput) {
  CausalLm model = std::move(LoadCausalLm(kModels / "llama_mha")).value();
  EXPECT_FALSE(Generate(model, std::vector<int32_t>{}, {}).ok());
  EXPECT_FALSE(Generate(model, std::vector<int32_t>{999}, {}).ok());
  GenerateOptions bad;
  bad.top_p = 0;
  EXPECT_FALSE(Generate(model, std::vector<int32_t>{1}, bad).ok());
}

}  // namespace
}  // namespace gradients::train
