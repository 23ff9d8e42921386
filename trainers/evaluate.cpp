#include "trainers/evaluate.h"

#include <algorithm>
#include <numeric>

#include <torch/nn/functional/loss.h>
#include <torch/types.h>

namespace gradients::train {
namespace {

constexpr int32_t kIgnore = -100;

common::Status CheckExample(const text::TokenizedExample& example, size_t index, int64_t vocab_size) {
  std::string where = "document " + std::to_string(index + 1) + ": ";
  if (example.input_ids.size() != example.labels.size()) {
    return common::Status::InvalidArgument(where + std::to_string(example.input_ids.size()) + " ids but " +
                                   std::to_string(example.labels.size()) + " labels");
  }
  for (int32_t id : example.input_ids) {
    if (id < 0 || id >= vocab_size) {
      return common::Status::InvalidArgument(where + "token id " + std::to_string(id) + " outside the vocabulary of " +
                                     std::to_string(vocab_size));
    }
  }
  for (int32_t label : example.labels) {
    if (label != kIgnore && (label < 0 || label >= vocab_size)) {
      return common::Status::InvalidArgument(where + "label " + std::to_string(label) + " outside the vocabulary");
    }
  }
  return common::Status::Ok();
}

}  // namespace

common::Result<EvalResult> EvaluateLoss(CausalLm& model, std::span<const text::TokenizedExample> examples,
                                const EvalOptions& options) {
  const int64_t vocab_size = model->config().vocab_size;
  for (size_t i = 0; i < examples.size(); ++i) GRADIENTS_RETURN_IF_ERROR(CheckExample(examples[i], i, vocab_size));
  // Similar lengths share a batch, so little is spent on padding; stable, so the order is reproducible.
  std::vector<size_t> order(examples.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return examples[a].input_ids.size() < examples[b].input_ids.size();
  });

  torch::NoGradGuard no_grad;
  const at::Device device = model->model->embed_tokens->weight.device();
  std::vector<double> loss_sums(examples.size(), 0.0);
  std::vector<int64_t> token_counts(examples.size(), 0);
  size_t next = 0;
  while (next < order.size()) {
    // Grow the batch while the padded size (count x longest, the last being longest) fits.
    size_t end = next + 1;
    while (end < order.size() &&
           static_cast<int64_t>((end + 1 - next) * examples[order[end]].input_ids.size()) <= options.max_batch_tokens) {
      ++end;
    }
    const int64_t batch = static_cast<int64_t>(end - next);
    const int64_t length = static_cast<int64_t>(examples[order[end - 1]].input_ids.size());
    if (length < 2) {
      next = end;
      continue;
    }
    at::Tensor ids = torch::zeros({batch, length}, torch::kLong);
    at::Tensor labels = torch::full({batch, length}, kIgnore, torch::kLong);
    for (int64_t row = 0; row < batch; ++row) {
      const text::TokenizedExample& example = examples[order[next + static_cast<size_t>(row)]];
      auto n = static_cast<int64_t>(example.input_ids.size());
      std::vector<int64_t> row_ids(example.input_ids.begin(), example.input_ids.end());
      std::vector<int64_t> row_labels(example.labels.begin(), example.labels.end());
      ids[row].narrow(0, 0, n).copy_(torch::tensor(row_ids, torch::kLong));
      labels[row].narrow(0, 0, n).copy_(torch::tensor(row_labels, torch::kLong));
    }
    at::Tensor logits = model->forward(ids.to(device)).to(at::kFloat);
    // Position i predicts token i + 1, as transformers shifts labels inside the loss.
    at::Tensor predicted = logits.narrow(1, 0, length - 1).reshape({-1, vocab_size});
    at::Tensor targets = labels.narrow(1, 1, length - 1).reshape({-1}).to(device);
    at::Tensor per_token = torch::nn::functional::cross_entropy(
        predicted, targets,
        torch::nn::functional::CrossEntropyFuncOptions().ignore_index(kIgnore).reduction(torch::kNone));
    at::Tensor per_document = per_token.view({batch, length - 1}).to(at::kDouble).sum(1).to(at::kCPU);
    at::Tensor counts = (labels.narrow(1, 1, length - 1) != kIgnore).sum(1);
    for (int64_t row = 0; row < batch; ++row) {
      size_t index = order[next + static_cast<size_t>(row)];
      loss_sums[index] = per_document[row].item<double>();
      token_counts[index] = counts[row].item<int64_t>();
    }
    next = end;
  }
  EvalResult result;
  result.documents = static_cast<int64_t>(examples.size());
  double total = 0;
  for (size_t i = 0; i < examples.size(); ++i) {
    total += loss_sums[i];
    result.tokens += token_counts[i];
  }
  if (result.tokens == 0) return common::Status::InvalidArgument("no document has a token to predict");
  result.loss = total / static_cast<double>(result.tokens);
  return result;
}

}  // namespace gradients::train
