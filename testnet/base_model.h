// Base models pretrained by the project's own trainer: a SentencePiece tokenizer trained on a text
// corpus (Debian's spm_train), a model initialised from a preset with it, and full training on
// the corpus for a token budget. The local testnet's base model and the market benchmark's come
// from here. A model is named by its recipe (the corpus' digest and every setting) and cached
// under that name, so the same command gives the same model, made once.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "common/config.h"
#include "common/status.h"

namespace gradients::train {
struct TrainProgress;
}  // namespace gradients::train

namespace gradients::testnet {

// Everything that decides the model besides the corpus: with the corpus' digest, the model's name.
struct BaseModelRecipe {
  std::string preset = "small";
  int64_t vocab_size = 1024;
  int64_t train_tokens = 1'000'000;
  int64_t max_length = 128;
  double learning_rate = 2e-3;
  int64_t micro_batch_size = 16;
  uint64_t seed = 0;
  // libtorch's intra-op threads (OpenBLAS still uses every core for the matrix products): its
  // reductions, and so the weights, depend on it.
  int cpu_threads = 1;
};

// Reads the recipe's keys (preset, vocab_size, train_tokens, max_length, learning_rate,
// micro_batch_size, seed, cpu_threads) from `reader`'s object, beside the keys others read there.
void ReadRecipeKeys(common::ConfigReader& reader, BaseModelRecipe& recipe);

struct BaseModelOptions {
  std::filesystem::path corpus;  // JSONL, one {"text": ...} document a line
  std::filesystem::path out;     // receives config.json, model.safetensors, tokenizer.model, base_model.json
  BaseModelRecipe recipe;
  std::filesystem::path cache_dir;  // empty: no cache
  std::function<void(const train::TrainProgress&)> on_progress;
  // When it turns true (Ctrl-C) the making stops: kAborted, nothing cached or written to `out`.
  const std::atomic<bool>* cancel = nullptr;
};

struct BaseModelResult {
  std::string recipe_digest;  // hex BLAKE2b-256 of the recipe (base_model.json's "recipe")
  bool cached = false;        // taken from the cache (or found in `out`) rather than trained
  int64_t tokens = 0;         // trained (0 when cached)
  double final_loss = 0;      // the last reported training loss (0 when cached)
};

// Makes the base model into options.out (created; an existing directory must hold the same
// recipe's model, which is then kept as it is).
common::Result<BaseModelResult> MakeBaseModel(const BaseModelOptions& options);

}  // namespace gradients::testnet
