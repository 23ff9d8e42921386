// A training run's inputs checked and named: the examples against the model's vocabulary (before
// anything is trained), and the identities a checkpoint records so that a resume on other inputs
// is refused (trainers/trainer.h): a digest of the tokenized examples and a fingerprint of the base
// model.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"
#include "text/dataset.h"

namespace gradients::train {

// InvalidArgument naming the (1-based) example with a token id or label the model's embeddings
// cannot look up: a tokenizer that does not belong to the model.
common::Status CheckVocabulary(const std::vector<text::TokenizedExample>& examples, int64_t vocab_size);

// Hex BLAKE2b-256 of every example's ids and labels: other data, or other tokenization, differs.
std::string DataDigest(const std::vector<text::TokenizedExample>& examples);

// Hex BLAKE2b-256 of the model's config.json and, for each weight file, its name, size and first
// and last MiB (the header and some of the weights: another model of the same shape differs there;
// hashing gigabytes at every start would cost more than it protects).
common::Result<std::string> ModelFingerprint(const std::filesystem::path& model_dir);

}  // namespace gradients::train
