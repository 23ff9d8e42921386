// UTF-8 validation and repair (RFC 3629: no overlong forms, no surrogates, nothing above
// U+10FFFF), shared by the safetensors reader, the dataset readers and the tokenizers.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace gradients::common {

// The length of the well-formed UTF-8 sequence at `pos`, or 0 with `*bad` set to the length of
// the maximal ill-formed subpart there (Unicode's "maximal subpart" practice).
size_t WellFormedUtf8Length(std::string_view text, size_t pos, size_t* bad);

// Byte offset of the first byte of `text` that is not well-formed UTF-8, or nullopt when all is.
std::optional<size_t> FindInvalidUtf8(std::string_view text);

bool IsValidUtf8(std::string_view text);

// `text` with every ill-formed UTF-8 sequence replaced by U+FFFD (one per maximal ill-formed
// subpart, as Python's `bytes.decode("utf-8", "replace")` does).
std::string ToValidUtf8(std::string_view text);

void AppendUtf8(std::string& out, char32_t c);

}  // namespace gradients::common
