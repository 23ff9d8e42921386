// Converts a SentencePiece BPE tokenizer.model into the tokenizer.json that transformers'
// LlamaConverter writes for it (Llama-2, Mistral): the pieces as the BPE vocabulary, merges
// derived from the vocabulary and the piece scores, byte fallback, unk fused, control and
// user-defined pieces as added tokens, "▁" whitespace handling, and a BOS template.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace gradients::text {

struct SentencePieceConversionOptions {
  // transformers' legacy Llama normalizer (Prepend "▁" + Replace " " by "▁", as Llama-2's
  // tokenizer.json has); otherwise a Metaspace pre-tokenizer with prepend_scheme "first".
  bool legacy = true;
  // What TemplateProcessing puts around a sequence.
  bool add_bos = true;
  bool add_eos = false;
  // The pieces it adds; the model's own BOS/EOS pieces when unset.
  std::optional<std::string> bos_token{};
  std::optional<std::string> eos_token{};
};

// The tokenizer.json for the model at `model_path`. Rejected with the reason: non-BPE models and
// models whose normalization tokenizer.json cannot express here (a precompiled rule such as
// nmt_nfkc, remove_extra_whitespaces, whitespace as suffix).
common::Result<nlohmann::json> ConvertSentencePieceModel(const std::filesystem::path& model_path,
                                                 const SentencePieceConversionOptions& options = {});

// The same for the content of a tokenizer.model; errors carry no path.
common::Result<nlohmann::json> ConvertSentencePieceModelBytes(std::string_view bytes,
                                                      const SentencePieceConversionOptions& options = {});

}  // namespace gradients::text
