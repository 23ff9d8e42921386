// Configuration: JSON files into typed options structs.
//
// Each options struct keeps its defaults in-class and gets a free function
//   void ReadConfig(ConfigReader& reader, MyOptions& options);
// that names every key it accepts. Absent keys keep their defaults; keys nobody asked for are
// rejected (a typo must not silently fall back to a default); every error names the JSON path
// and the problem: `miner.strategy.max_trials: expected an integer, got "ten"`. An enum with a name
// table (common/enum_names.h) is read from its name.
#pragma once

#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/enum_names.h"
#include "common/status.h"

namespace gradients::common {

class ConfigReader;

template <typename T>
concept ConfigStruct = requires(ConfigReader& reader, T& options) { ReadConfig(reader, options); };

class ConfigReader {
 public:
  // `path` names `object` in error messages ("miner", "miner.strategy").
  ConfigReader(const nlohmann::json& object, std::string path);

  // Reads `key` into `out` when present; an absent key leaves `out` at its default.
  template <typename T>
  ConfigReader& Optional(std::string_view key, T& out) {
    if (const nlohmann::json* value = Take(key)) ReadValue(*value, Child(key), out);
    return *this;
  }

  // As Optional, but an absent key is an error.
  template <typename T>
  ConfigReader& Required(std::string_view key, T& out) {
    if (const nlohmann::json* value = Take(key)) {
      ReadValue(*value, Child(key), out);
    } else if (is_object_) {
      AddError(Child(key), "required key is missing");
    }
    return *this;
  }

  // A string that must be one of `choices`.
  ConfigReader& OptionalChoice(std::string_view key, std::string& out, std::initializer_list<std::string_view> choices);

  // Records "<path>.<key>: <message>" unless `condition` holds; for checks on values already read.
  ConfigReader& Check(bool condition, std::string_view key, std::string_view message);

  // OK, or every error found (unknown keys included), one per line.
  Status Finish();

  const std::string& path() const { return path_; }

 private:
  const nlohmann::json* Take(std::string_view key);
  void CheckUnknownKeys();
  std::string Child(std::string_view key) const;
  void AddError(const std::string& path, std::string_view message);

  void ReadValue(const nlohmann::json& value, const std::string& path, bool& out);
  void ReadValue(const nlohmann::json& value, const std::string& path, int& out);
  void ReadValue(const nlohmann::json& value, const std::string& path, int64_t& out);
  void ReadValue(const nlohmann::json& value, const std::string& path, uint64_t& out);
  void ReadValue(const nlohmann::json& value, const std::string& path, double& out);
  void ReadValue(const nlohmann::json& value, const std::string& path, std::string& out);

  template <typename T>
  void ReadValue(const nlohmann::json& value, const std::string& path, std::vector<T>& out) {
    if (!value.is_array()) {
      ExpectedButGot(path, "an array", value);
      return;
    }
    std::vector<T> items(value.size());
    for (size_t i = 0; i < value.size(); ++i) ReadValue(value[i], path + "[" + std::to_string(i) + "]", items[i]);
    out = std::move(items);
  }

  template <NamedEnum Enum>
  void ReadValue(const nlohmann::json& value, const std::string& path, Enum& out) {
    const std::optional<Enum> named = value.is_string() ? EnumFromName<Enum>(value.get<std::string>()) : std::nullopt;
    if (!named) return ExpectedButGot(path, "one of " + EnumNameList<Enum>(), value);
    out = *named;
  }

  template <ConfigStruct T>
  void ReadValue(const nlohmann::json& value, const std::string& path, T& out) {
    ConfigReader child(value, path);
    ReadConfig(child, out);
    child.CheckUnknownKeys();
    errors_.insert(errors_.end(), child.errors_.begin(), child.errors_.end());
  }

  void ExpectedButGot(const std::string& path, std::string_view expected, const nlohmann::json& value);

  const nlohmann::json& object_;
  std::string path_;
  bool is_object_;
  std::set<std::string, std::less<>> known_keys_;
  std::vector<std::string> errors_;
  bool checked_unknown_keys_ = false;
};

// Parses `json` (already in memory) into T; `root` is the path of the top-level object.
template <ConfigStruct T>
Result<T> ParseConfig(const nlohmann::json& json, std::string root) {
  T options;
  ConfigReader reader(json, std::move(root));
  ReadConfig(reader, options);
  GRADIENTS_RETURN_IF_ERROR(reader.Finish());
  return options;
}

// Reads a JSON file strictly (duplicate keys rejected). Errors are prefixed with the file's path.
Result<nlohmann::json> ReadJsonFile(const std::filesystem::path& path);

template <ConfigStruct T>
Result<T> LoadConfigFile(const std::filesystem::path& path, std::string root) {
  GRADIENTS_ASSIGN_OR_RETURN(nlohmann::json json, ReadJsonFile(path));
  Result<T> options = ParseConfig<T>(json, std::move(root));
  if (!options.ok()) return options.status().WithContext(path.string());
  return options;
}

}  // namespace gradients::common
