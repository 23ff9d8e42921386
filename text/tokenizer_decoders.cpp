#include "text/tokenizer_decoders.h"

#include <unordered_map>

#include "text/tokenizer_json_fields.h"
#include "text/tokenizer_normalizers.h"
#include "text/tokenizer_unicode.h"

namespace gradients::text {
namespace {

constexpr int kMaxNesting = 8;
constexpr int64_t kMaxStrip = 1 << 20;
constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";

// The inverse of ByteLevelCharacter: which byte a vocabulary character stands for.
const std::unordered_map<char32_t, unsigned char>& ByteLevelBytes() {
  static const std::unordered_map<char32_t, unsigned char> table = [] {
    std::unordered_map<char32_t, unsigned char> map;
    for (int byte = 0; byte < 256; ++byte) {
      size_t length = 0;
      map[DecodeUtf8(ByteLevelCharacter(static_cast<unsigned char>(byte)), 0, &length)] =
          static_cast<unsigned char>(byte);
    }
    return map;
  }();
  return table;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The byte of a "<0xAB>" token, parsed as Rust's u8::from_str_radix (which also takes "+A").
std::optional<unsigned char> ByteFallbackByte(const std::string& token) {
  if (token.size() != 6 || token.compare(0, 3, "<0x") != 0 || token[5] != '>') return std::nullopt;
  if (token[3] == '+') {
    int digit = HexDigit(token[4]);
    if (digit < 0) return std::nullopt;
    return static_cast<unsigned char>(digit);
  }
  int high = HexDigit(token[3]), low = HexDigit(token[4]);
  if (high < 0 || low < 0) return std::nullopt;
  return static_cast<unsigned char>(high * 16 + low);
}

std::vector<std::string> DecodeByteLevel(const std::vector<std::string>& tokens) {
  const auto& bytes = ByteLevelBytes();
  std::string joined;
  for (const std::string& token : tokens) {
    std::string decoded;
    bool all_mapped = true;
    for (size_t pos = 0; pos < token.size() && all_mapped;) {
      size_t length = 0;
      auto it = bytes.find(DecodeUtf8(token, pos, &length));
      if (it == bytes.end()) {
        all_mapped = false;
      } else {
        decoded.push_back(static_cast<char>(it->second));
      }
      pos += length;
    }
    joined += all_mapped ? decoded : token;
  }
  return {common::ToValidUtf8(joined)};
}

std::vector<std::string> DecodeByteFallback(std::vector<std::string> tokens) {
  std::vector<std::string> out;
  std::string pending;
  const auto flush = [&] {
    if (pending.empty()) return;
    if (common::IsValidUtf8(pending)) {
      out.push_back(pending);
    } else {
      for (size_t i = 0; i < pending.size(); ++i) out.emplace_back(kReplacementCharacter);
    }
    pending.clear();
  };
  for (std::string& token : tokens) {
    if (std::optional<unsigned char> byte = ByteFallbackByte(token)) {
      pending.push_back(static_cast<char>(*byte));
    } else {
      flush();
      out.push_back(std::move(token));
    }
  }
  flush();
  return out;
}

std::vector<std::string> DecodeMetaspace(const MetaspaceSettings& settings, std::vector<std::string> tokens) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    std::string decoded;
    const std::string& token = tokens[i];
    for (size_t pos = 0; pos < token.size();) {
      size_t length = Utf8SequenceLength(static_cast<unsigned char>(token[pos]));
      if (token.compare(pos, length, settings.replacement) == 0) {
        if (i != 0 || settings.prepend_scheme == MetaspacePrependScheme::kNever) decoded.push_back(' ');
      } else {
        decoded.append(token, pos, length);
      }
      pos += length;
    }
    tokens[i] = std::move(decoded);
  }
  return tokens;
}

std::string Strip(const std::string& token, const std::string& content, size_t start, size_t stop) {
  size_t begin = 0, end = token.size();
  for (size_t n = 0; n < start && token.compare(begin, content.size(), content) == 0 && begin < end; ++n) {
    begin += content.size();
  }
  for (size_t n = 0; n < stop && end >= begin + content.size() &&
                     token.compare(end - content.size(), content.size(), content) == 0;
       ++n) {
    end -= content.size();
  }
  return token.substr(begin, end - begin);
}

}  // namespace

common::Result<TokenDecoder> TokenDecoder::Parse(const nlohmann::json& value, std::string_view path) {
  TokenDecoder decoder;
  if (value.is_null()) return decoder;
  decoder.has_decoder_ = true;
  GRADIENTS_RETURN_IF_ERROR(decoder.ParseInto(value, path, 0));
  return decoder;
}

common::Status TokenDecoder::ParseInto(const nlohmann::json& value, std::string_view path, int depth) {
  if (depth > kMaxNesting) return JsonFieldError(path, "decoders nest too deeply");
  GRADIENTS_ASSIGN_OR_RETURN(std::string type, ReadJsonType(value, path));
  if (type == "Sequence") {
    const nlohmann::json* items = FindJsonField(value, "decoders");
    std::string items_path = JsonChildPath(path, "decoders");
    if (items == nullptr || !items->is_array()) return JsonFieldError(items_path, "expected an array");
    for (size_t i = 0; i < items->size(); ++i) {
      GRADIENTS_RETURN_IF_ERROR(ParseInto((*items)[i], JsonIndexPath(items_path, i), depth + 1));
    }
    return common::Status::Ok();
  }
  Step step{};
  if (type == "ByteLevel") {
    step.kind = Kind::kByteLevel;
  } else if (type == "Metaspace") {
    step.kind = Kind::kMetaspace;
    GRADIENTS_ASSIGN_OR_RETURN(step.metaspace, ParseMetaspaceSettings(value, path));
  } else if (type == "Replace") {
    step.kind = Kind::kReplace;
    GRADIENTS_ASSIGN_OR_RETURN(step.pattern, ParsePatternField(value, path));
    GRADIENTS_ASSIGN_OR_RETURN(step.content, ReadJsonString(value, "content", path));
  } else if (type == "ByteFallback") {
    step.kind = Kind::kByteFallback;
  } else if (type == "Fuse") {
    step.kind = Kind::kFuse;
  } else if (type == "Strip") {
    step.kind = Kind::kStrip;
    GRADIENTS_ASSIGN_OR_RETURN(step.content, ReadJsonCharacter(value, "content", path));
    GRADIENTS_ASSIGN_OR_RETURN(int64_t start, ReadJsonInteger(value, "start", path, 0, kMaxStrip));
    GRADIENTS_ASSIGN_OR_RETURN(int64_t stop, ReadJsonInteger(value, "stop", path, 0, kMaxStrip));
    step.strip_start = static_cast<size_t>(start);
    step.strip_stop = static_cast<size_t>(stop);
  } else {
    return JsonFieldError(JsonChildPath(path, "type"),
                          "unsupported decoder " + QuoteForMessage(type) +
                              " (supported: Sequence, ByteLevel, Metaspace, Replace, ByteFallback, Fuse, Strip)");
  }
  steps_.push_back(std::move(step));
  return common::Status::Ok();
}

std::vector<std::string> TokenDecoder::Apply(const Step& step, std::vector<std::string> tokens) {
  switch (step.kind) {
    case Kind::kByteLevel:
      return DecodeByteLevel(tokens);
    case Kind::kMetaspace:
      return DecodeMetaspace(step.metaspace, std::move(tokens));
    case Kind::kReplace:
      for (std::string& token : tokens) token = step.pattern.ReplaceAll(token, step.content);
      return tokens;
    case Kind::kByteFallback:
      return DecodeByteFallback(std::move(tokens));
    case Kind::kFuse: {
      std::string fused;
      for (const std::string& token : tokens) fused += token;
      return {fused};
    }
    case Kind::kStrip:
      for (std::string& token : tokens) token = Strip(token, step.content, step.strip_start, step.strip_stop);
      return tokens;
  }
  return tokens;
}

std::string TokenDecoder::Decode(std::vector<std::string> tokens) const {
  std::string text;
  if (!has_decoder_) {
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (i > 0) text += ' ';
      text += tokens[i];
    }
    return text;
  }
  for (const Step& step : steps_) tokens = Apply(step, std::move(tokens));
  for (const std::string& token : tokens) text += token;
  return text;
}

}  // namespace gradients::text
