// A small deterministic tokenizer for tests, in memory like leveldb's in-memory Env: each UTF-8
// byte b is id 3 + b; <unk> = 0, <s> = 1, </s> = 2; optionally <|im_start|> = 259 and
// <|im_end|> = 260 (ChatML). Special tokens occurring literally in text are recognised, as
// Hugging Face tokenizers recognise added tokens. Encode with add_special_tokens prepends <s>,
// as Llama's tokenizer does.
#pragma once

#include <utility>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "text/tokenizer.h"

namespace gradients::testing {

class ByteTokenizer : public text::Tokenizer {
 public:
  static constexpr int32_t kUnkId = 0;
  static constexpr int32_t kBosId = 1;
  static constexpr int32_t kEosId = 2;
  static constexpr int32_t kFirstByteId = 3;
  static constexpr int32_t kImStartId = 259;
  static constexpr int32_t kImEndId = 260;

  struct Options {
    bool has_bos = true;
    bool has_eos = true;
    bool chatml_tokens = false;  // <|im_start|> and <|im_end|> as single ids
  };

  ByteTokenizer() = default;
  explicit ByteTokenizer(Options options) : options_(options) {}

  // The ids of `text` byte by byte, no special tokens recognised: what a test expects.
  static std::vector<int32_t> Bytes(std::string_view text) {
    std::vector<int32_t> ids;
    for (char c : text) ids.push_back(kFirstByteId + static_cast<unsigned char>(c));
    return ids;
  }

  std::vector<int32_t> Encode(std::string_view text, bool add_special_tokens) const override {
    std::vector<int32_t> ids;
    if (add_special_tokens && options_.has_bos) ids.push_back(kBosId);
    for (size_t i = 0; i < text.size();) {
      if (std::optional<std::pair<int32_t, size_t>> special = SpecialAt(text.substr(i))) {
        ids.push_back(special->first);
        i += special->second;
      } else {
        ids.push_back(kFirstByteId + static_cast<unsigned char>(text[i]));
        ++i;
      }
    }
    return ids;
  }

  std::string Decode(std::span<const int32_t> ids, bool skip_special_tokens) const override {
    std::string text;
    for (int32_t id : ids) {
      if (id >= kFirstByteId && id < kFirstByteId + 256) {
        text += static_cast<char>(id - kFirstByteId);
      } else if (!skip_special_tokens) {
        for (const auto& [token, special_id] : Specials()) {
          if (special_id == id) text += token;
        }
      }
    }
    return text;
  }

  int32_t vocab_size() const override { return options_.chatml_tokens ? kImEndId + 1 : kFirstByteId + 256; }

  std::optional<int32_t> TokenToId(std::string_view token) const override {
    for (const auto& [text, id] : Specials()) {
      if (text == token) return id;
    }
    if (token.size() == 1) return kFirstByteId + static_cast<unsigned char>(token[0]);
    return std::nullopt;
  }

  std::optional<int32_t> bos_id() const override { return options_.has_bos ? std::optional(kBosId) : std::nullopt; }
  std::optional<int32_t> eos_id() const override { return options_.has_eos ? std::optional(kEosId) : std::nullopt; }

 private:
  std::vector<std::pair<std::string_view, int32_t>> Specials() const {
    std::vector<std::pair<std::string_view, int32_t>> specials = {{"<unk>", kUnkId}, {"<s>", kBosId}, {"</s>", kEosId}};
    if (options_.chatml_tokens) {
      specials.emplace_back("<|im_start|>", kImStartId);
      specials.emplace_back("<|im_end|>", kImEndId);
    }
    return specials;
  }

  std::optional<std::pair<int32_t, size_t>> SpecialAt(std::string_view text) const {
    for (const auto& [token, id] : Specials()) {
      if (text.starts_with(token)) return std::pair(id, token.size());
    }
    return std::nullopt;
  }

  Options options_;
};

}  // namespace gradients::testing
