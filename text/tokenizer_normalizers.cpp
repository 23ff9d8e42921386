#include "text/tokenizer_normalizers.h"

#include "common/strict_json.h"
#include "text/tokenizer_json_fields.h"

namespace gradients::text {
namespace {

// Sequences nest; the JSON parser bounds depth already, this bounds our own recursion.
constexpr int kMaxNesting = 8;

std::string StripWhitespace(const std::string& text, bool left, bool right) {
  size_t begin = 0, end = text.size();
  if (left) {
    while (begin < end) {
      size_t length = 0;
      if (!IsUnicodeWhitespace(DecodeUtf8(text, begin, &length))) break;
      begin += length;
    }
  }
  if (right) {
    while (end > begin) {
      size_t start = end - 1;
      while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
      size_t length = 0;
      if (!IsUnicodeWhitespace(DecodeUtf8(text, start, &length))) break;
      end = start;
    }
  }
  return text.substr(begin, end - begin);
}

}  // namespace

common::Result<TextPattern> ParsePatternField(const nlohmann::json& object, std::string_view path) {
  std::string pattern_path = JsonChildPath(path, "pattern");
  const nlohmann::json* pattern = FindJsonField(object, "pattern");
  if (pattern == nullptr) return JsonFieldError(pattern_path, "required field is missing");
  if (!pattern->is_object() || pattern->size() != 1) {
    return JsonFieldError(pattern_path, "expected {\"String\": ...} or {\"Regex\": ...}, got " + common::JsonSnippet(*pattern));
  }
  if (const nlohmann::json* literal = FindJsonField(*pattern, "String")) {
    GRADIENTS_ASSIGN_OR_RETURN(std::string text, JsonToUtf8String(*literal, JsonChildPath(pattern_path, "String")));
    return TextPattern::Literal(std::move(text));
  }
  if (const nlohmann::json* regex = FindJsonField(*pattern, "Regex")) {
    std::string regex_path = JsonChildPath(pattern_path, "Regex");
    GRADIENTS_ASSIGN_OR_RETURN(std::string text, JsonToUtf8String(*regex, regex_path));
    common::Result<TextPattern> compiled = TextPattern::Regex(text);
    if (!compiled.ok()) return JsonFieldError(regex_path, compiled.status().message());
    return compiled;
  }
  return JsonFieldError(pattern_path, "expected {\"String\": ...} or {\"Regex\": ...}, got " + common::JsonSnippet(*pattern));
}

common::Result<TextNormalizer> TextNormalizer::Parse(const nlohmann::json& value, std::string_view path) {
  TextNormalizer normalizer;
  if (value.is_null()) return normalizer;
  GRADIENTS_RETURN_IF_ERROR(normalizer.ParseInto(value, path, 0));
  return normalizer;
}

common::Status TextNormalizer::ParseInto(const nlohmann::json& value, std::string_view path, int depth) {
  if (depth > kMaxNesting) return JsonFieldError(path, "normalizers nest too deeply");
  GRADIENTS_ASSIGN_OR_RETURN(std::string type, ReadJsonType(value, path));
  if (type == "Sequence") {
    const nlohmann::json* items = FindJsonField(value, "normalizers");
    std::string items_path = JsonChildPath(path, "normalizers");
    if (items == nullptr || !items->is_array()) return JsonFieldError(items_path, "expected an array");
    for (size_t i = 0; i < items->size(); ++i) {
      GRADIENTS_RETURN_IF_ERROR(ParseInto((*items)[i], JsonIndexPath(items_path, i), depth + 1));
    }
    return common::Status::Ok();
  }
  Step step{};
  if (type == "Prepend") {
    step.kind = Kind::kPrepend;
    GRADIENTS_ASSIGN_OR_RETURN(step.text, ReadJsonString(value, "prepend", path));
  } else if (type == "Replace") {
    step.kind = Kind::kReplace;
    GRADIENTS_ASSIGN_OR_RETURN(step.pattern, ParsePatternField(value, path));
    GRADIENTS_ASSIGN_OR_RETURN(step.text, ReadJsonString(value, "content", path));
  } else if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") {
    step.kind = Kind::kUnicode;
    step.form = type == "NFC"    ? UnicodeNormalForm::kNfc
                : type == "NFD"  ? UnicodeNormalForm::kNfd
                : type == "NFKC" ? UnicodeNormalForm::kNfkc
                                 : UnicodeNormalForm::kNfkd;
  } else if (type == "Strip") {
    step.kind = Kind::kStrip;
    GRADIENTS_ASSIGN_OR_RETURN(step.strip_left, ReadJsonBool(value, "strip_left", path, true));
    GRADIENTS_ASSIGN_OR_RETURN(step.strip_right, ReadJsonBool(value, "strip_right", path, true));
  } else {
    return JsonFieldError(JsonChildPath(path, "type"),
                          "unsupported normalizer " + QuoteForMessage(type) +
                              " (supported: Sequence, Prepend, Replace, NFC, NFD, NFKC, NFKD, Strip)");
  }
  steps_.push_back(std::move(step));
  return common::Status::Ok();
}

std::string TextNormalizer::Normalize(std::string text) const {
  for (const Step& step : steps_) {
    switch (step.kind) {
      case Kind::kPrepend:
        if (!text.empty()) text = step.text + text;
        break;
      case Kind::kReplace:
        text = step.pattern.ReplaceAll(text, step.text);
        break;
      case Kind::kUnicode:
        text = NormalizeUnicode(text, step.form);
        break;
      case Kind::kStrip:
        text = StripWhitespace(text, step.strip_left, step.strip_right);
        break;
    }
  }
  return text;
}

}  // namespace gradients::text
