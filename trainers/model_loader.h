// Loading and saving Hugging Face model directories: config.json plus model.safetensors or a
// sharded model.safetensors.index.json. Loading is strict: a missing, unexpected or wrongly shaped
// tensor is an error naming it, because a silently half-loaded model scores as garbage.
#pragma once

#include <filesystem>
#include <map>
#include <string>

#include "trainers/causal_lm.h"

namespace gradients::train {

struct ModelLoadOptions {
  // Parameters are kept in this dtype; float32 by default (CPU evaluation is float32 and
  // deterministic). The weights may be stored as float32, float16 or bfloat16.
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;
  // A PEFT LoRA adapter directory merged into the weights (in float32, before the dtype and device).
  std::filesystem::path adapter{};
};

// Copies the safetensors tensors of `model_dir` into `model`'s parameters by name.
common::Status LoadModelWeights(CausalLm& model, const std::filesystem::path& model_dir);

// config.json + weights (+ the adapter), on the requested device and dtype, in evaluation mode.
common::Result<CausalLm> LoadCausalLm(const std::filesystem::path& model_dir, const ModelLoadOptions& options = {});

// The model's parameters by Hugging Face name, as stored in model.safetensors (a tied lm_head is
// not written: transformers ties it again on load).
std::map<std::string, at::Tensor> NamedWeights(CausalLm& model);

struct ModelSaveOptions {
  // The weights are written in this dtype, and config.json's torch_dtype says so.
  at::ScalarType dtype = at::kFloat;
  // transformers' max_shard_size (its default "5GB" is 5 * 10^9 bytes): weights above it are split
  // into model-00001-of-0000N.safetensors ... with a model.safetensors.index.json.
  uint64_t max_shard_bytes = 5'000'000'000;
};

// Writes config.json and the weights into `model_dir` (created if missing), each file durably, as
// transformers' save_pretrained does: one model.safetensors up to options.max_shard_bytes, shards
// above it (tensors assigned in the model's parameter order, a new shard when the next tensor would
// pass the limit, a tensor larger than the limit alone in its own shard). Weight files of an earlier
// save in `model_dir` that this one does not replace are removed, since the loader prefers an index.
common::Status SaveCausalLm(CausalLm& model, const std::filesystem::path& model_dir, const ModelSaveOptions& options = {});
// The same with only the dtype chosen.
common::Status SaveCausalLm(CausalLm& model, const std::filesystem::path& model_dir, at::ScalarType dtype);

// Copies whichever of the tokenizer files a Hugging Face model directory carries (tokenizer.json,
// tokenizer_config.json, special_tokens_map.json, tokenizer.model, vocab.json, merges.txt,
// added_tokens.json, generation_config.json, chat_template.jinja) exist in `from_dir` into `to_dir`
// (created if missing), each durably, replacing files of the same name.
common::Status CopyTokenizerFiles(const std::filesystem::path& from_dir, const std::filesystem::path& to_dir);

}  // namespace gradients::train
