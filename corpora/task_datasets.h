// The datasets made from Debian's texts (debian_texts.h), by name: pretraining text for base
// models and instruct tasks for the testnet and the market benchmark. Each is a pure function of
// the package files, its row count and its seed: the same inputs give the same file.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/status.h"
#include "corpora/debian_texts.h"

namespace gradients::corpora {

struct CorpusOptions {
  std::filesystem::path wordnet_dir = kWordnetDir;
  std::filesystem::path fortunes_dir = kFortunesDir;
  std::filesystem::path miscfiles_dir = kMiscfilesDir;
  std::filesystem::path freedict_dir = kFreedictDir;
  size_t rows = 0;  // 0: every row the source has
  uint64_t seed = 0;
};

struct CorpusSource {
  std::string name;
  std::string format;  // the dataset format its rows are in: "text" or "instruct"
  std::string description;
  std::function<common::Result<std::vector<nlohmann::json>>(const CorpusOptions&)> make;
};

// pretraining-text: fortunes and the glosses of WordNet's verbs, adjectives and adverbs, as text
//   documents (the base models' pretraining corpus; no noun, so the testnet's task stays unseen);
// wordnet-definitions: instruct rows "Define the noun ..." -> WordNet's definition, one sense per
//   word;
// country-facts: instruct rows "What is the capital of France?" -> "Paris", and the currency and
//   the two-letter ISO code, from miscfiles' countries and currencies;
// word-translation: instruct rows "Translate the English word "house" into French." -> "maison",
//   into French, German and Spanish, from FreeDict's dictionaries;
// arithmetic, word-problems, retrieval: synthetic instruct rows (corpora/synthetic_tasks.h).
const std::vector<CorpusSource>& CorpusSources();

// The rows of the source `name`: `options.rows` of them (all when 0) in an order fixed by the seed.
common::Result<std::vector<nlohmann::json>> MakeCorpus(const std::string& name, const CorpusOptions& options);

// Indexes of `keys` ordered by BLAKE2b of (seed, key): a shuffle that depends on nothing but the
// seed and the keys themselves (not on their order or count).
std::vector<size_t> OrderBySeed(const std::vector<std::string>& keys, uint64_t seed);

// One JSON object a line, written durably.
common::Status WriteJsonLines(const std::filesystem::path& path, const std::vector<nlohmann::json>& rows);

}  // namespace gradients::corpora
