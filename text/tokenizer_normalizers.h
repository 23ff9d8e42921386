// The normalizer of a tokenizer.json: text-to-text rewrites applied to each piece of the input
// between added tokens, before pre-tokenization (Hugging Face `normalizers`).
//
// Supported: Sequence, Prepend, Replace (String or Regex pattern), NFC, NFD, NFKC, NFKD, Strip.
// Anything else (Lowercase, BertNormalizer, Precompiled, ...) is rejected when parsed.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "text/tokenizer_regex.h"
#include "text/tokenizer_unicode.h"

namespace gradients::text {

class TextNormalizer {
 public:
  // The identity.
  TextNormalizer() = default;

  // Parses the "normalizer" value at `path` (null gives the identity).
  static common::Result<TextNormalizer> Parse(const nlohmann::json& value, std::string_view path);

  // `text` normalized; `text` is valid UTF-8 and so is the result.
  std::string Normalize(std::string text) const;

 private:
  enum class Kind { kPrepend, kReplace, kUnicode, kStrip };
  struct Step {
    Kind kind;
    std::string text;  // Prepend: the prefix; Replace: the replacement
    TextPattern pattern = TextPattern::Literal("");
    UnicodeNormalForm form = UnicodeNormalForm::kNfc;
    bool strip_left = false;
    bool strip_right = false;
  };

  common::Status ParseInto(const nlohmann::json& value, std::string_view path, int depth);

  std::vector<Step> steps_;
};

// The "pattern" of a Replace or Split: {"String": "..."} or {"Regex": "..."}.
common::Result<TextPattern> ParsePatternField(const nlohmann::json& object, std::string_view path);

}  // namespace gradients::text
