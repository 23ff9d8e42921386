#include "common/config.h"

#include <algorithm>
#include <limits>

#include "common/durable_file.h"
#include "common/strict_json.h"

namespace gradients::common {
namespace {

constexpr uint64_t kMaxConfigFileBytes = 16 << 20;

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

}  // namespace

ConfigReader::ConfigReader(const nlohmann::json& object, std::string path)
    : object_(object), path_(std::move(path)), is_object_(object.is_object()) {
  if (!is_object_) ExpectedButGot(path_, "an object", object);
}

const nlohmann::json* ConfigReader::Take(std::string_view key) {
  known_keys_.emplace(key);
  if (!is_object_) return nullptr;
  auto it = object_.find(key);
  return it == object_.end() ? nullptr : &*it;
}

std::string ConfigReader::Child(std::string_view key) const {
  std::string out = path_;
  if (!out.empty()) out += '.';
  out += key;
  return out;
}

void ConfigReader::AddError(const std::string& path, std::string_view message) {
  errors_.push_back(path + ": " + std::string(message));
}

void ConfigReader::ExpectedButGot(const std::string& path, std::string_view expected, const nlohmann::json& value) {
  AddError(path, "expected " + std::string(expected) + ", got " + JsonSnippet(value));
}

void ConfigReader::ReadValue(const nlohmann::json& value, const std::string& path, bool& out) {
  if (!value.is_boolean()) return ExpectedButGot(path, "true or false", value);
  out = value.get<bool>();
}

void ConfigReader::ReadValue(const nlohmann::json& value, const std::string& path, int& out) {
  int64_t wide = out;
  size_t errors_before = errors_.size();
  ReadValue(value, path, wide);
  if (errors_.size() != errors_before) return;
  if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) {
    return AddError(path, "integer " + std::to_string(wide) + " is out of range");
  }
  out = static_cast<int>(wide);
}

void ConfigReader::ReadValue(const nlohmann::json& value, const std::string& path, int64_t& out) {
  if (value.is_number_integer() && !value.is_number_unsigned()) {
    out = value.get<int64_t>();
  } else if (value.is_number_unsigned()) {
    uint64_t u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return AddError(path, "integer " + std::to_string(u) + " is out of range");
    }
    out = static_cast<int64_t>(u);
  } else {
    ExpectedButGot(path, "an integer", value);
  }
}

void ConfigReader::ReadValue(const nlohmann::json& value, const std::string& path, uint64_t& out) {
  // A parsed 5 is unsigned, a 5 built in C++ is signed: both are the same value.
  if (value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0)) {
    out = value.get<uint64_t>();
  } else if (value.is_number_integer()) {
    AddError(path, "expected a non-negative integer, got " + JsonSnippet(value));
  } else {
    ExpectedButGot(path, "a non-negative integer", value);
  }
}

void ConfigReader::ReadValue(const nlohmann::json& value, const std::string& path, double& out) {
  if (!value.is_number()) return ExpectedButGot(path, "a number", value);
  out = value.get<double>();
}

void ConfigReader::ReadValue(const nlohmann::json& value, const std::string& path, std::string& out) {
  if (!value.is_string()) return ExpectedButGot(path, "a string", value);
  out = value.get<std::string>();
}

ConfigReader& ConfigReader::OptionalChoice(std::string_view key, std::string& out,
                                           std::initializer_list<std::string_view> choices) {
  const nlohmann::json* value = Take(key);
  if (value == nullptr) return *this;
  std::string list;
  for (std::string_view choice : choices) list += (list.empty() ? "\"" : ", \"") + std::string(choice) + "\"";
  if (!value->is_string() || std::find(choices.begin(), choices.end(), value->get<std::string>()) == choices.end()) {
    ExpectedButGot(Child(key), "one of " + list, *value);
    return *this;
  }
  out = value->get<std::string>();
  return *this;
}

ConfigReader& ConfigReader::Check(bool condition, std::string_view key, std::string_view message) {
  if (!condition) AddError(Child(key), message);
  return *this;
}

void ConfigReader::CheckUnknownKeys() {
  if (checked_unknown_keys_ || !is_object_) return;
  checked_unknown_keys_ = true;
  for (const auto& [key, value] : object_.items()) {
    if (known_keys_.contains(key)) continue;
    std::string message = "unknown key";
    std::string_view best;
    size_t best_distance = 3;  // suggest only near misses
    for (const std::string& known : known_keys_) {
      size_t distance = EditDistance(key, known);
      if (distance < best_distance) {
        best_distance = distance;
        best = known;
      }
    }
    if (best.empty()) {
      // A truncated name ("micro_batch" for "micro_batch_size") is far in edits but unambiguous.
      std::vector<std::string_view> extensions;
      for (const std::string& known : known_keys_) {
        if (known.starts_with(key)) extensions.push_back(known);
      }
      if (extensions.size() == 1) best = extensions.front();
    }
    if (!best.empty()) message += " (did you mean \"" + std::string(best) + "\"?)";
    AddError(Child(key), message);
  }
}

Status ConfigReader::Finish() {
  CheckUnknownKeys();
  if (errors_.empty()) return Status::Ok();
  std::string message;
  for (const std::string& error : errors_) message += (message.empty() ? "" : "\n") + error;
  return Status::InvalidArgument(message);
}

Result<nlohmann::json> ReadJsonFile(const std::filesystem::path& path) {
  GRADIENTS_ASSIGN_OR_RETURN(std::string text, ReadFileToString(path, kMaxConfigFileBytes));
  Result<nlohmann::json> json = ParseStrictJson(text);
  if (!json.ok()) return json.status().WithContext(path.string());
  return json;
}

}  // namespace gradients::common
