// Page tokens of the list calls that page by a number (the last id or sequence shown, or an
// offset): decimal text, positive. Clients treat them as opaque.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/status.h"

namespace gradients::validator {

// 0 for the first page (an empty token); InvalidArgument for anything but a positive number.
inline common::Result<int64_t> ParseNumberPageToken(const std::string& token) {
  if (token.empty()) return int64_t{0};
  char* end = nullptr;
  const long long value = std::strtoll(token.c_str(), &end, 10);
  if (end != token.c_str() + token.size() || value <= 0 || token.size() > 19) {
    return common::Status::InvalidArgument("page_token: not a token of this call");
  }
  return static_cast<int64_t>(value);
}

// The page size a list call asked for: 0 means 50, more than 500 is InvalidArgument.
inline common::Result<int64_t> PageSize(uint32_t requested) {
  constexpr uint32_t kDefault = 50, kMax = 500;
  if (requested > kMax) return common::Status::InvalidArgument("page_size: at most " + std::to_string(kMax));
  return static_cast<int64_t>(requested == 0 ? kDefault : requested);
}

}  // namespace gradients::validator
