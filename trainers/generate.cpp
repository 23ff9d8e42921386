#include "trainers/generate.h"

#include <algorithm>

#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

namespace gradients::train {
namespace {

int64_t PickToken(const at::Tensor& logits, const GenerateOptions& options, at::Generator& generator) {
  if (options.temperature == 0.0) return logits.argmax(-1).item<int64_t>();
  at::Tensor probabilities = at::softmax(logits.to(at::kFloat) / options.temperature, -1).to(at::kCPU);
  if (options.top_p < 1.0) {
    auto [sorted, indices] = probabilities.sort(-1, /*descending=*/true);
    // Keep a token while the mass before it is below top_p (so the most likely one always stays).
    at::Tensor mass_before = sorted.cumsum(-1) - sorted;
    sorted = sorted.masked_fill(mass_before >= options.top_p, 0.0);
    probabilities = at::zeros_like(probabilities).scatter(-1, indices, sorted);
  }
  return at::multinomial(probabilities, 1, false, generator).item<int64_t>();
}

}  // namespace

common::Result<std::vector<int32_t>> Generate(CausalLm& model, std::span<const int32_t> prompt, const GenerateOptions& options) {
  const int64_t vocab_size = model->config().vocab_size;
  if (prompt.empty()) return common::Status::InvalidArgument("the prompt has no tokens");
  if (options.temperature < 0 || !(options.top_p > 0 && options.top_p <= 1) || options.max_new_tokens < 0) {
    return common::Status::InvalidArgument("temperature must be >= 0, top_p in (0, 1] and max_new_tokens >= 0");
  }
  for (int32_t id : prompt) {
    if (id < 0 || id >= vocab_size) return common::Status::InvalidArgument("prompt token " + std::to_string(id) + " outside the vocabulary");
  }
  std::vector<int64_t> stop_ids = options.stop_ids.empty() ? model->config().eos_token_ids : options.stop_ids;
  at::Generator generator = at::detail::createCPUGenerator(options.seed);
  torch::NoGradGuard no_grad;
  const at::Device device = model->model->embed_tokens->weight.device();
  KvCache cache;
  at::Tensor input = torch::tensor(std::vector<int64_t>(prompt.begin(), prompt.end()), torch::kLong).unsqueeze(0);
  std::vector<int32_t> generated;
  while (static_cast<int64_t>(generated.size()) < options.max_new_tokens) {
    ForwardOptions forward;
    forward.cache = &cache;
    at::Tensor hidden = model->Hidden(input.to(device), forward);
    at::Tensor logits = model->Logits(hidden.select(1, hidden.size(1) - 1)).squeeze(0);
    int64_t token = PickToken(logits, options, generator);
    generated.push_back(static_cast<int32_t>(token));
    if (std::find(stop_ids.begin(), stop_ids.end(), token) != stop_ids.end()) break;
    input = torch::tensor({token}, torch::kLong).unsqueeze(0);
  }
  return generated;
}

}  // namespace gradients::train
