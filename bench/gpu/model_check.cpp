// model_check MODEL_DIR IDS_JSON DEVICE DTYPE OUT.safetensors [ADAPTER_DIR]
// Runs the trainer's model on token ids ([[...], ...], equal lengths) and writes its logits
// (float32) and the mean next-token loss to OUT, for bench/gpu/transformers_check.py to compare
// with transformers on the same machine.
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>
#include <torch/types.h>

#include "common/safetensors.h"
#include "trainers/compute_device.h"
#include "trainers/evaluate.h"
#include "trainers/model_loader.h"
#include "trainers/tensor_io.h"

int main(int argc, char** argv) {
  if (argc != 6 && argc != 7) {
    std::cerr << "usage: model_check MODEL_DIR IDS_JSON DEVICE DTYPE OUT.safetensors [ADAPTER_DIR]\n";
    return 2;
  }
  using namespace gradients::common;
  using namespace gradients::text;
  using namespace gradients::train;
  nlohmann::json ids_json = nlohmann::json::parse(argv[2]);
  Result<c10::Device> device = ResolveComputeDevice(argv[3]);
  if (!device.ok()) {
    std::cerr << device.status().message() << "\n";
    return 1;
  }
  ModelLoadOptions options;
  options.device = *device;
  options.dtype = std::string(argv[4]) == "bfloat16" ? at::kBFloat16 : at::kFloat;
  if (argc == 7) options.adapter = argv[6];
  Result<CausalLm> model = LoadCausalLm(argv[1], options);
  if (!model.ok()) {
    std::cerr << model.status().message() << "\n";
    return 1;
  }
  std::vector<TokenizedExample> documents;
  std::vector<int64_t> flat;
  for (const auto& row : ids_json) {
    std::vector<int32_t> ids = row.get<std::vector<int32_t>>();
    documents.push_back({ids, ids});
    flat.insert(flat.end(), ids.begin(), ids.end());
  }
  torch::NoGradGuard no_grad;
  at::Tensor input = torch::tensor(flat, torch::kLong).view({static_cast<int64_t>(documents.size()), -1});
  at::Tensor logits = (*model)->forward(input.to(*device)).to(at::kCPU, at::kFloat).contiguous();
  Result<EvalResult> loss = EvaluateLoss(*model, documents);
  if (!loss.ok()) {
    std::cerr << loss.status().message() << "\n";
    return 1;
  }
  SafetensorsWriter writer;
  Status added = AddTensor(writer, "logits", logits);
  writer.SetMetadata({{"loss", std::to_string(loss->loss)}});
  if (!added.ok() || !writer.WriteFile(argv[5]).ok()) {
    std::cerr << "writing " << argv[5] << " failed\n";
    return 1;
  }
  std::printf("{\"loss\": %.9g, \"tokens\": %lld}\n", loss->loss, static_cast<long long>(loss->tokens));
  return 0;
}
