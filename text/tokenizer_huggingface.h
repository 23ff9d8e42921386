// A Tokenizer built from a Hugging Face tokenizer.json with a BPE model, encoding and decoding as
// the `tokenizers` library does: added tokens, normalizer, pre-tokenizer, BPE, post-processor;
// and decoder on the way back.
//
// Ignored, as transformers ignores them unless asked: "truncation" and "padding". Rejected with
// the JSON path and the reason: other models (WordPiece, Unigram, WordLevel), BPE dropout, and any
// normalizer, pre-tokenizer, post-processor or decoder not listed in their headers.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "text/tokenizer.h"

namespace gradients::text {

// What tokenizer_config.json says about special tokens.
struct TokenizerConfig {
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  // SentencePiece models only (a tokenizer.json has its post-processor): whether Encode with
  // add_special_tokens adds BOS / EOS, as Llama's tokenizer does by default.
  bool add_bos_token = true;
  bool add_eos_token = false;
};

// Parses tokenizer_config.json's bos_token/eos_token (a string or {"content": ...}) and
// add_bos_token/add_eos_token; other keys are left alone.
common::Result<TokenizerConfig> ParseTokenizerConfig(const nlohmann::json& json);

// The tokenizer that `json` (a parsed tokenizer.json) describes. bos_id/eos_id come from
// `config` when it names them, else from the post-processor's first and last added ids.
common::Result<std::unique_ptr<Tokenizer>> CreateHuggingFaceTokenizer(const nlohmann::json& json,
                                                              const TokenizerConfig& config);

}  // namespace gradients::text
