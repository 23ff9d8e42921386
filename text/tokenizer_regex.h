// Patterns for pre-tokenizers, normalizers and decoders: a literal string or a Unicode regular
// expression with Oniguruma's meaning (what Hugging Face tokenizers compiles them with), run by
// PCRE2 in UTF + UCP mode.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gradients::text {

// A byte range [begin, end) of a text.
struct TextSpan {
  size_t begin = 0;
  size_t end = 0;
};

class TextPattern {
 public:
  // Matches `text` literally; an empty literal matches nothing.
  static TextPattern Literal(std::string text);

  // Compiles `pattern`. `\s` and `\S` are rewritten to Unicode White_Space, as Oniguruma and
  // Rust define them (PCRE2's UCP `\s` also matches U+180E). Errors say where the pattern is bad.
  static common::Result<TextPattern> Regex(std::string_view pattern);

  // The non-overlapping matches in `text` (valid UTF-8), left to right. An empty match is not
  // reported right after the previous match, and the search goes on one character later, as in
  // Rust's `find_iter`. Should the regex engine give up (its backtracking limit), the rest of the
  // text counts as unmatched.
  std::vector<TextSpan> FindAll(std::string_view text) const;

  // `text` with every match replaced by `replacement`.
  std::string ReplaceAll(std::string_view text, std::string_view replacement) const;

 private:
  struct Compiled;
  std::string literal_;
  std::shared_ptr<const Compiled> regex_;
};

// `pattern` with `\s`/`\S` spelled as `\p{White_Space}`/`\P{White_Space}`; other escapes kept.
std::string RewriteWhitespaceClasses(std::string_view pattern);

}  // namespace gradients::text
