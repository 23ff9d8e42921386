// Strict JSON parsing for untrusted and operator-written text.
//
// nlohmann::json::parse keeps the last of two equal keys without a word; for a config file
// that hides a typo, and for a safetensors header it lets two readers disagree about the
// same file. This parser rejects duplicate keys and bounds nesting depth.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace gradients::common {

struct StrictJsonOptions {
  // Objects and arrays nested deeper than this are rejected.
  size_t max_depth = 64;
};

// Parses one JSON value from `text` (surrounding whitespace allowed). Errors are
// InvalidArgument and say what is wrong: `duplicate key "dtype"`,
// `invalid JSON at byte 12: ...`.
Result<nlohmann::json> ParseStrictJson(std::string_view text, const StrictJsonOptions& options = {});

// A short, printable rendering of a JSON value for error messages ("\"ten\"", "[1,2,...]").
std::string JsonSnippet(const nlohmann::json& value, size_t max_chars = 40);

}  // namespace gradients::common
