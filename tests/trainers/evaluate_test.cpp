#include "trainers/evaluate.h"

#include <gtest/gtest.h>
#include <torch/nn/functional/loss.h>
#include <torch/types.h>

#include "common/config.h"
#include "trainers/model_loader.h"

namespace gradients::train {
namespace {

const std::filesystem::path kModels = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models";

text::TokenizedExample Document(std::vector<int32_t> ids) { return {ids, ids}; }

// The loss transformers computes for one document with `labels`, summed (not averaged) here.
std::pair<double, int64_t> SingleDocument(CausalLm& model, const text::TokenizedExample& example) {
  torch::NoGradGuard no_grad;
  std::vector<int64_t> ids(example.input_ids.begin(), example.input_ids.end());
  std::vector<int64_t> labels(example.labels.begin(), example.labels.end());
  at::Tensor logits = model->forward(torch::tensor(ids, torch::kLong).unsqueeze(0)).squeeze(0);
  at::Tensor targets = torch::tensor(labels, torch::kLong).narrow(0, 1, static_cast<int64_t>(labels.size()) - 1);
  at::Tensor per_token = torch::nn::functional::cross_entropy(
      logits.narrow(0, 0, logits.size(0) - 1), targets,
      torch::nn::functional::CrossEntropyFuncOptions().ignore_index(-100).reduction(torch::kNone));
  return {per_token.sum().item<double>(), (targets != -100).sum().item<int64_t>()};
}

TEST(EvaluateLoss, EqualsTheReferenceLossOnEqualLengthDocuments) {
  for (const char* name : {"llama_mha", "qwen2", "llama_rope_llama3"}) {
    CausalLm model = std::move(LoadCausalLm(kModels / name)).value();
    nlohmann::json expected = *common::ReadJsonFile(kModels / name / "expected.json");
    std::vector<text::TokenizedExample> documents;
    for (const auto& row : expected["ids"]) documents.push_back(Document(row.get<std::vector<int32_t>>()));
    common::Result<EvalResult> result = EvaluateLoss(model, documents);
    ASSERT_TRUE(result.ok()) << result.status().ToString();
    EXPECT_NEAR(result->loss, expected["loss"].get<double>(), 1e-5) << name;
    EXPECT_EQ(result->tokens, expected["tokens"].get<int64_t>());
    EXPECT_EQ(result->documents, 2);
  }
}

TEST(EvaluateLoss, WeighsDocumentsByTheirPredictedTokensAndSkipsMaskedOnes) {
  CausalLm model = std::move(LoadCausalLm(kModels / "llama_gqa_tied_theta")).value();
  std::vector<text::TokenizedExample> documents = {
      Document({1, 5, 9, 13, 21, 34, 55, 89, 3}),
      {{1, 7, 7, 8, 100, 101, 2}, {-100, -100, -100, -100, 100, 101, 2}},  // an instruct row: prompt masked
      Document({1, 42}),
  };
  double sum = 0;
  int64_t tokens = 0;
  for (const text::TokenizedExample& d : documents) {
    auto [document_sum, document_tokens] = SingleDocument(model, d);
    sum += document_sum;
    tokens += document_tokens;
  }
  common::Result<EvalResult> result = EvaluateLoss(model, documents);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->tokens, 8 + 3 + 1);
  EXPECT_EQ(tokens, 12);
  EXPECT_NEAR(result->loss, sum / static_cast<double>(tokens), 1e-6);
}

TEST(EvaluateLoss, IsDeterministicAndIndependentOfBatching) {
  CausalLm model = std::move(LoadCausalLm(kModels / "mistral")).value();
  std::vector<text::TokenizedExample> documents;
  for (int i = 0; i < 9; ++i) {
    std::vector<int32_t> ids;
    for (int j = 0; j < 3 + i * 2; ++j) ids.push_back((i * 31 + j * 7) % 128);
    documents.push_back(Document(ids));
  }
  EvalResult first = *EvaluateLoss(model, documents);
  EvalResult again = *EvaluateLoss(model, documents);
  EXPECT_EQ(first.loss, again.loss) << "bitwise identical";
  EvalResult one_at_a_time = *EvaluateLoss(model, documents, {.max_batch_tokens = 1});
  EXPECT_NEAR(first.loss, one_at_a_time.loss, 1e-6);
  EXPECT_EQ(first.tokens, one_at_a_time.tokens);
}

TEST(EvaluateLoss, RejectsBadDocuments) {
  CausalLm model = std::move(LoadCausalLm(kModels / "llama_mha")).value();
  EXPECT_EQ(EvaluateLoss(model, std::vector<text::TokenizedExample>{Document({1, 500})}).status().message(),
            "document 1: token id 500 outside the vocabulary of 128");
  EXPECT_EQ(EvaluateLoss(model, std::vector<text::TokenizedExample>{{{1, 2}, {1}}}).status().message(),
            "document 1: 2 ids but 1 labels");
  EXPECT_EQ(EvaluateLoss(model, std::vector<text::TokenizedExample>{Document({7})}).status().message(),
            "no document has a token to predict");
}

}  // namespace
}  // namespace gradients::train
