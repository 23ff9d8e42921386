// UTF-8 and Unicode helpers shared by the tokenizers: validation, code point access, the
// whitespace and word-character classes Hugging Face's Rust code uses, and Unicode normalization
// forms (through utf8proc).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

// ToValidUtf8, IsValidUtf8, AppendUtf8: the tokenizers only ever see valid UTF-8, as Hugging
// Face's and SentencePiece's Python APIs accept nothing else.
#include "common/utf8.h"

namespace gradients::text {

// The code point starting at byte `pos` of valid UTF-8 `text`, and its length in bytes.
char32_t DecodeUtf8(std::string_view text, size_t pos, size_t* length);

// The length in bytes of the UTF-8 character whose first byte is `lead`.
size_t Utf8SequenceLength(unsigned char lead);


// Unicode White_Space: what Rust's `char::is_whitespace`, Rust's and Oniguruma's `\s` match.
bool IsUnicodeWhitespace(char32_t c);

// Rust regex's Unicode `\w`: Alphabetic, marks, decimal digits, connector punctuation, joiners.
bool IsUnicodeWordCharacter(char32_t c);

enum class UnicodeNormalForm { kNfc, kNfd, kNfkc, kNfkd };

// `text` (valid UTF-8) in the normal form.
std::string NormalizeUnicode(std::string_view text, UnicodeNormalForm form);

}  // namespace gradients::text
