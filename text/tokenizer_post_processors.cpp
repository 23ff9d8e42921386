#include "text/tokenizer_post_processors.h"

#include <string>

#include "common/strict_json.h"
#include "text/tokenizer_json_fields.h"

namespace gradients::text {
namespace {

constexpr int kMaxNesting = 8;
constexpr size_t kMaxTemplateIds = 1024;

// The ids of a RobertaProcessing/BertProcessing "cls" or "sep": ["<s>", 0].
common::Result<int32_t> ReadTokenPairId(const nlohmann::json& object, std::string_view key, std::string_view path,
                                const std::function<bool(int64_t)>& is_known_id) {
  std::string pair_path = JsonChildPath(path, key);
  const nlohmann::json* pair = FindJsonField(object, key);
  if (pair == nullptr || !pair->is_array() || pair->size() != 2 || !(*pair)[0].is_string() ||
      !IsNonNegativeJsonInteger((*pair)[1])) {
    return JsonFieldError(pair_path, "expected [token, id]");
  }
  uint64_t id = (*pair)[1].get<uint64_t>();
  if (!is_known_id(static_cast<int64_t>(std::min<uint64_t>(id, INT32_MAX)))) {
    return JsonFieldError(pair_path, "id " + std::to_string(id) + " is not in the vocabulary");
  }
  return static_cast<int32_t>(id);
}

// The ids of special token `name` in a TemplateProcessing's "special_tokens".
common::Result<std::vector<int32_t>> ReadTemplateSpecialToken(const nlohmann::json& special_tokens, const std::string& name,
                                                      std::string_view path,
                                                      const std::function<bool(int64_t)>& is_known_id) {
  std::string entry_path = JsonChildPath(path, "special_tokens." + name);
  const nlohmann::json* entry = FindJsonField(special_tokens, name);
  if (entry == nullptr) return JsonFieldError(entry_path, "the template uses a special token that is not declared");
  const nlohmann::json* ids = FindJsonField(*entry, "ids");
  if (ids == nullptr || !ids->is_array() || ids->size() > kMaxTemplateIds) {
    return JsonFieldError(JsonChildPath(entry_path, "ids"), "expected an array of ids");
  }
  std::vector<int32_t> result;
  for (size_t i = 0; i < ids->size(); ++i) {
    const nlohmann::json& id = (*ids)[i];
    if (!IsNonNegativeJsonInteger(id) || !is_known_id(static_cast<int64_t>(std::min<uint64_t>(id.get<uint64_t>(), INT32_MAX)))) {
      return JsonFieldError(JsonIndexPath(JsonChildPath(entry_path, "ids"), i),
                            common::JsonSnippet(id) + " is not an id in the vocabulary");
    }
    result.push_back(static_cast<int32_t>(id.get<uint64_t>()));
  }
  return result;
}

}  // namespace

common::Result<PostProcessor> PostProcessor::Parse(const nlohmann::json& value, std::string_view path,
                                           const std::function<bool(int64_t)>& is_known_id) {
  PostProcessor processor;
  if (value.is_null()) return processor;
  GRADIENTS_RETURN_IF_ERROR(processor.ParseInto(value, path, is_known_id, 0));
  return processor;
}

common::Status PostProcessor::ParseInto(const nlohmann::json& value, std::string_view path,
                                const std::function<bool(int64_t)>& is_known_id, int depth) {
  if (depth > kMaxNesting) return JsonFieldError(path, "post-processors nest too deeply");
  GRADIENTS_ASSIGN_OR_RETURN(std::string type, ReadJsonType(value, path));
  if (type == "Sequence") {
    const nlohmann::json* items = FindJsonField(value, "processors");
    std::string items_path = JsonChildPath(path, "processors");
    if (items == nullptr || !items->is_array()) return JsonFieldError(items_path, "expected an array");
    for (size_t i = 0; i < items->size(); ++i) {
      GRADIENTS_RETURN_IF_ERROR(ParseInto((*items)[i], JsonIndexPath(items_path, i), is_known_id, depth + 1));
    }
    return common::Status::Ok();
  }
  if (type == "ByteLevel") return common::Status::Ok();
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    GRADIENTS_ASSIGN_OR_RETURN(int32_t cls, ReadTokenPairId(value, "cls", path, is_known_id));
    GRADIENTS_ASSIGN_OR_RETURN(int32_t sep, ReadTokenPairId(value, "sep", path, is_known_id));
    wraps_.push_back({{cls}, {sep}});
    return common::Status::Ok();
  }
  if (type != "TemplateProcessing") {
    return JsonFieldError(JsonChildPath(path, "type"),
                          "unsupported post-processor " + QuoteForMessage(type) +
                              " (supported: TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, "
                              "Sequence)");
  }
  std::string single_path = JsonChildPath(path, "single");
  const nlohmann::json* single = FindJsonField(value, "single");
  if (single == nullptr || !single->is_array()) return JsonFieldError(single_path, "expected an array");
  const nlohmann::json* special_tokens = FindJsonField(value, "special_tokens");
  if (special_tokens == nullptr || !special_tokens->is_object()) {
    return JsonFieldError(JsonChildPath(path, "special_tokens"), "expected an object");
  }
  Wrap wrap;
  bool seen_sequence = false;
  for (size_t i = 0; i < single->size(); ++i) {
    std::string piece_path = JsonIndexPath(single_path, i);
    const nlohmann::json& piece = (*single)[i];
    if (const nlohmann::json* sequence = FindJsonField(piece, "Sequence")) {
      GRADIENTS_ASSIGN_OR_RETURN(std::string id, ReadJsonString(*sequence, "id", JsonChildPath(piece_path, "Sequence")));
      if (id != "A" || seen_sequence) {
        return JsonFieldError(piece_path, "a single-sequence template must hold sequence A exactly once");
      }
      seen_sequence = true;
    } else if (const nlohmann::json* special = FindJsonField(piece, "SpecialToken")) {
      GRADIENTS_ASSIGN_OR_RETURN(std::string name,
                                 ReadJsonString(*special, "id", JsonChildPath(piece_path, "SpecialToken")));
      GRADIENTS_ASSIGN_OR_RETURN(std::vector<int32_t> ids,
                                 ReadTemplateSpecialToken(*special_tokens, name, path, is_known_id));
      std::vector<int32_t>& side = seen_sequence ? wrap.after : wrap.before;
      side.insert(side.end(), ids.begin(), ids.end());
    } else {
      return JsonFieldError(piece_path, "expected {\"Sequence\": ...} or {\"SpecialToken\": ...}, got " +
                                            common::JsonSnippet(piece));
    }
  }
  if (!seen_sequence) return JsonFieldError(single_path, "the template never places sequence A");
  wraps_.push_back(std::move(wrap));
  return common::Status::Ok();
}

std::vector<int32_t> PostProcessor::Process(std::vector<int32_t> ids) const {
  for (const Wrap& wrap : wraps_) {
    if (wrap.before.empty() && wrap.after.empty()) continue;
    std::vector<int32_t> wrapped;
    wrapped.reserve(wrap.before.size() + ids.size() + wrap.after.size());
    wrapped.insert(wrapped.end(), wrap.before.begin(), wrap.before.end());
    wrapped.insert(wrapped.end(), ids.begin(), ids.end());
    wrapped.insert(wrapped.end(), wrap.after.begin(), wrap.after.end());
    ids = std::move(wrapped);
  }
  return ids;
}

std::optional<int32_t> PostProcessor::leading_id() const {
  for (auto it = wraps_.rbegin(); it != wraps_.rend(); ++it) {
    if (!it->before.empty()) return it->before.front();
  }
  return std::nullopt;
}

std::optional<int32_t> PostProcessor::trailing_id() const {
  for (auto it = wraps_.rbegin(); it != wraps_.rend(); ++it) {
    if (!it->after.empty()) return it->after.back();
  }
  return std::nullopt;
}

}  // namespace gradients::text
