// Tokenizers: text to token ids and back, exactly as Hugging Face tokenizers (tokenizer.json) or
// SentencePiece (tokenizer.model) would produce them for the same files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gradients::text {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;

  // The ids of `text`. With `add_special_tokens`, what the post-processor adds (BOS and/or EOS),
  // as Hugging Face's `encode(text, add_special_tokens=True)`. Added/special tokens that occur
  // literally in `text` are recognised either way. Ill-formed UTF-8 in `text` is read as U+FFFD,
  // as Python's decode(errors="replace") would hand it to the tokenizer. Thread-safe.
  virtual std::vector<int32_t> Encode(std::string_view text, bool add_special_tokens) const = 0;

  // The text of `ids`; with `skip_special_tokens`, special tokens are left out. Ids outside the
  // vocabulary decode to nothing.
  virtual std::string Decode(std::span<const int32_t> ids, bool skip_special_tokens) const = 0;

  // Number of ids, added tokens included (ids are 0 .. vocab_size() - 1).
  virtual int32_t vocab_size() const = 0;

  // The id of a token given by its string form ("<|im_start|>", "</s>"), if it exists.
  virtual std::optional<int32_t> TokenToId(std::string_view token) const = 0;

  // Special tokens, as declared by the files (tokenizer_config.json / the model), if any.
  virtual std::optional<int32_t> bos_id() const = 0;
  virtual std::optional<int32_t> eos_id() const = 0;
};

// Loads `path`: a tokenizer.json, a SentencePiece tokenizer.model, or a model directory holding
// one of them (tokenizer.json preferred; tokenizer_config.json beside it is read when present).
// Errors name the file and what is wrong or unsupported.
// Supported: tokenizer.json with a BPE model (byte-level as GPT-2/Llama-3/Qwen2, or SentencePiece
// style as Llama-2/Mistral; see tokenizer_huggingface.h), and any tokenizer.model libsentencepiece
// loads (see sentencepiece_tokenizer.h).
common::Result<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::filesystem::path& path);

}  // namespace gradients::text
