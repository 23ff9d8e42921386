// Enums with one table of names each: how a JSON file, a database column or a log line spells each
// value, and what reading one accepts. The table is a function found by argument-dependent lookup,
// declared beside the enum in its namespace, listing every value once in the order an error lists
// them:
//   enum class Color { kRed, kGreen };
//   constexpr auto EnumNames(Color) {
//     return std::to_array<common::EnumNameEntry<Color>>({{Color::kRed, "red"}, {Color::kGreen, "green"}});
//   }
//   common::EnumName(Color::kRed)                -> "red"
//   common::EnumFromName<Color>("green")         -> Color::kGreen
//   common::ParseEnum<Color>("blue")             -> InvalidArgument: expected one of "red", "green", got "blue"
// ConfigReader (common/config.h) reads such an enum as a string with that same error.
#pragma once

#include <concepts>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "common/strict_json.h"

namespace gradients::common {

template <typename Enum>
struct EnumNameEntry {
  Enum value;
  std::string_view name;
};

template <typename Enum>
concept NamedEnum = std::is_enum_v<Enum> && requires(Enum value) {
  { *EnumNames(value).begin() } -> std::convertible_to<const EnumNameEntry<Enum>&>;
};

// The value's name; a value its table lacks (a programmer's error) is "unknown".
template <NamedEnum Enum>
constexpr std::string_view EnumName(Enum value) {
  for (const EnumNameEntry<Enum>& entry : EnumNames(value)) {
    if (entry.value == value) return entry.name;
  }
  return "unknown";
}

template <NamedEnum Enum>
constexpr std::optional<Enum> EnumFromName(std::string_view name) {
  for (const EnumNameEntry<Enum>& entry : EnumNames(Enum{})) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}

// The accepted names quoted and in the table's order: "\"red\", \"green\"".
template <NamedEnum Enum>
std::string EnumNameList() {
  std::string list;
  for (const EnumNameEntry<Enum>& entry : EnumNames(Enum{})) {
    list += (list.empty() ? "\"" : ", \"") + std::string(entry.name) + "\"";
  }
  return list;
}

// The value named `name`, or InvalidArgument listing the accepted names (the name given cut short,
// since it may come from a file or a peer).
template <NamedEnum Enum>
Result<Enum> ParseEnum(std::string_view name) {
  if (std::optional<Enum> value = EnumFromName<Enum>(name)) return *value;
  return Status::InvalidArgument("expected one of " + EnumNameList<Enum>() + ", got " +
                                 JsonSnippet(nlohmann::json(std::string(name))));
}

}  // namespace gradients::common
