#include "text/tokenizer_unicode.h"

#include <cstdlib>

#include <utf8proc.h>

namespace gradients::text {

size_t Utf8SequenceLength(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  return 2;
}

char32_t DecodeUtf8(std::string_view text, size_t pos, size_t* length) {
  unsigned char lead = static_cast<unsigned char>(text[pos]);
  size_t n = Utf8SequenceLength(lead);
  if (pos + n > text.size()) n = text.size() - pos;
  *length = n;
  if (n == 1) return lead;
  char32_t c = lead & (0xFF >> (n + 1));
  for (size_t k = 1; k < n; ++k) c = (c << 6) | (static_cast<unsigned char>(text[pos + k]) & 0x3F);
  return c;
}


bool IsUnicodeWhitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool IsUnicodeWordCharacter(char32_t c) {
  if (c == '_' || c == 0x200C || c == 0x200D) return true;
  // Symbols that Unicode nevertheless calls Alphabetic (Other_Alphabetic): circled and squared
  // Latin letters.
  if ((c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169) ||
      (c >= 0x1F170 && c <= 0x1F189)) {
    return true;
  }
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(c))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_PC:
      return true;
    default:
      return false;
  }
}

std::string NormalizeUnicode(std::string_view text, UnicodeNormalForm form) {
  int options = UTF8PROC_STABLE;
  switch (form) {
    case UnicodeNormalForm::kNfc: options |= UTF8PROC_COMPOSE; break;
    case UnicodeNormalForm::kNfd: options |= UTF8PROC_DECOMPOSE; break;
    case UnicodeNormalForm::kNfkc: options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT; break;
    case UnicodeNormalForm::kNfkd: options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT; break;
  }
  utf8proc_uint8_t* normalized = nullptr;
  utf8proc_ssize_t length =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), static_cast<utf8proc_ssize_t>(text.size()),
                   &normalized, static_cast<utf8proc_option_t>(options));
  // utf8proc fails only on invalid UTF-8 or exhausted memory; the text is valid UTF-8, and an
  // unnormalized text is the better answer than none under memory pressure.
  if (length < 0) return std::string(text);
  std::string out(reinterpret_cast<const char*>(normalized), static_cast<size_t>(length));
  std::free(normalized);
  return out;
}

}  // namespace gradients::text
