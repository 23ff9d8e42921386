// Lower-case hexadecimal encoding of byte strings (digests, public keys, nonces).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gradients::common {

std::string ToHex(std::span<const uint8_t> bytes);

// Accepts upper- and lower-case digits; an odd length or a non-hex character is an error
// naming its position.
Result<std::vector<uint8_t>> FromHex(std::string_view text);

}  // namespace gradients::common
