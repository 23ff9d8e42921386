// Typed reads from a parsed tokenizer.json (or tokenizer_config.json). Every error names the JSON
// path of the offending value and the problem: `model.merges[3]: expected a string or a pair`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace gradients::text {

// "parent.key", or "key" at the top level.
std::string JsonChildPath(std::string_view parent, std::string_view key);
// "parent[index]".
std::string JsonIndexPath(std::string_view parent, size_t index);

// `text` in double quotes for an error message, cut after 64 bytes (on a character boundary):
// a file must not be able to make an error message unbounded.
std::string QuoteForMessage(std::string_view text);

// InvalidArgument("<path>: <problem>").
common::Status JsonFieldError(std::string_view path, std::string_view problem);

// The field `key` of `object` (whose path is `path`), or nullptr when absent or null.
const nlohmann::json* FindJsonField(const nlohmann::json& object, std::string_view key);

// Checks that the value at `path` is a JSON object.
common::Status ExpectJsonObject(const nlohmann::json& value, std::string_view path);

// The "type" string of a component object (normalizer, model, decoder, ...).
common::Result<std::string> ReadJsonType(const nlohmann::json& object, std::string_view path);

common::Result<std::string> ReadJsonString(const nlohmann::json& object, std::string_view key, std::string_view path);
// Absent or null gives nullopt.
common::Result<std::optional<std::string>> ReadOptionalJsonString(const nlohmann::json& object, std::string_view key,
                                                          std::string_view path);
// Absent or null gives `default_value`.
common::Result<bool> ReadJsonBool(const nlohmann::json& object, std::string_view key, std::string_view path,
                          bool default_value);
// A non-negative integer no larger than `max`; absent or null gives `default_value`.
common::Result<int64_t> ReadJsonInteger(const nlohmann::json& object, std::string_view key, std::string_view path,
                                int64_t default_value, int64_t max);
// A string holding exactly one character (Metaspace's replacement, Strip's content).
common::Result<std::string> ReadJsonCharacter(const nlohmann::json& object, std::string_view key, std::string_view path);

// Whether `value` is an integer >= 0 (parsed files give unsigned numbers, built ones signed).
bool IsNonNegativeJsonInteger(const nlohmann::json& value);

// A string checked to be valid UTF-8; tokens and patterns from a file must be.
common::Result<std::string> JsonToUtf8String(const nlohmann::json& value, std::string_view path);

}  // namespace gradients::text
