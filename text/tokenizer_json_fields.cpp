#include "text/tokenizer_json_fields.h"

#include "common/strict_json.h"
#include "text/tokenizer_unicode.h"

namespace gradients::text {

std::string JsonChildPath(std::string_view parent, std::string_view key) {
  if (parent.empty()) return std::string(key);
  std::string path(parent);
  path += '.';
  path += key;
  return path;
}

std::string JsonIndexPath(std::string_view parent, size_t index) {
  return std::string(parent) + "[" + std::to_string(index) + "]";
}

std::string QuoteForMessage(std::string_view text) {
  constexpr size_t kMaxBytes = 64;
  if (text.size() <= kMaxBytes) return "\"" + std::string(text) + "\"";
  size_t cut = kMaxBytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return "\"" + std::string(text.substr(0, cut)) + "...\"";
}

common::Status JsonFieldError(std::string_view path, std::string_view problem) {
  std::string message(path.empty() ? "top level" : path);
  message += ": ";
  message += problem;
  return common::Status::InvalidArgument(std::move(message));
}

const nlohmann::json* FindJsonField(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return nullptr;
  return &*it;
}

common::Status ExpectJsonObject(const nlohmann::json& value, std::string_view path) {
  if (value.is_object()) return common::Status::Ok();
  return JsonFieldError(path, "expected an object, got " + common::JsonSnippet(value));
}

common::Result<std::string> ReadJsonType(const nlohmann::json& object, std::string_view path) {
  GRADIENTS_RETURN_IF_ERROR(ExpectJsonObject(object, path));
  return ReadJsonString(object, "type", path);
}

bool IsNonNegativeJsonInteger(const nlohmann::json& value) {
  return value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0);
}

common::Result<std::string> JsonToUtf8String(const nlohmann::json& value, std::string_view path) {
  if (!value.is_string()) return JsonFieldError(path, "expected a string, got " + common::JsonSnippet(value));
  const std::string& text = value.get_ref<const std::string&>();
  if (!common::IsValidUtf8(text)) return JsonFieldError(path, "string is not valid UTF-8");
  return text;
}

common::Result<std::string> ReadJsonString(const nlohmann::json& object, std::string_view key, std::string_view path) {
  const nlohmann::json* value = FindJsonField(object, key);
  if (value == nullptr) return JsonFieldError(JsonChildPath(path, key), "required field is missing");
  return JsonToUtf8String(*value, JsonChildPath(path, key));
}

common::Result<std::optional<std::string>> ReadOptionalJsonString(const nlohmann::json& object, std::string_view key,
                                                          std::string_view path) {
  const nlohmann::json* value = FindJsonField(object, key);
  if (value == nullptr) return std::optional<std::string>();
  GRADIENTS_ASSIGN_OR_RETURN(std::string text, JsonToUtf8String(*value, JsonChildPath(path, key)));
  return std::optional<std::string>(std::move(text));
}

common::Result<bool> ReadJsonBool(const nlohmann::json& object, std::string_view key, std::string_view path,
                          bool default_value) {
  const nlohmann::json* value = FindJsonField(object, key);
  if (value == nullptr) return default_value;
  if (!value->is_boolean()) {
    return JsonFieldError(JsonChildPath(path, key), "expected true or false, got " + common::JsonSnippet(*value));
  }
  return value->get<bool>();
}

common::Result<int64_t> ReadJsonInteger(const nlohmann::json& object, std::string_view key, std::string_view path,
                                int64_t default_value, int64_t max) {
  const nlohmann::json* value = FindJsonField(object, key);
  if (value == nullptr) return default_value;
  if (!IsNonNegativeJsonInteger(*value)) {
    return JsonFieldError(JsonChildPath(path, key), "expected a non-negative integer, got " + common::JsonSnippet(*value));
  }
  uint64_t number = value->get<uint64_t>();
  if (number > static_cast<uint64_t>(max)) {
    return JsonFieldError(JsonChildPath(path, key),
                          std::to_string(number) + " exceeds the limit of " + std::to_string(max));
  }
  return static_cast<int64_t>(number);
}

common::Result<std::string> ReadJsonCharacter(const nlohmann::json& object, std::string_view key, std::string_view path) {
  GRADIENTS_ASSIGN_OR_RETURN(std::string text, ReadJsonString(object, key, path));
  size_t length = 0;
  if (text.empty() || (DecodeUtf8(text, 0, &length), length != text.size())) {
    return JsonFieldError(JsonChildPath(path, key), "expected a single character, got " + common::JsonSnippet(text));
  }
  return text;
}

}  // namespace gradients::text
