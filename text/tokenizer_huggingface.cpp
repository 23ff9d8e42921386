#include "text/tokenizer_huggingface.h"

#include <algorithm>
#include <unordered_set>

#include "common/strict_json.h"
#include "text/bpe_model.h"
#include "text/tokenizer_added_tokens.h"
#include "text/tokenizer_decoders.h"
#include "text/tokenizer_json_fields.h"
#include "text/tokenizer_normalizers.h"
#include "text/tokenizer_post_processors.h"
#include "text/tokenizer_pre_tokenizers.h"
#include "text/tokenizer_unicode.h"

namespace gradients::text {
namespace {

constexpr size_t kMaxAddedTokens = 1 << 20;

class HuggingFaceTokenizer final : public Tokenizer {
 public:
  HuggingFaceTokenizer(BpeModel model, AddedVocabulary added, TextNormalizer normalizer, PreTokenizer pre_tokenizer,
                       PostProcessor post_processor, TokenDecoder decoder)
      : model_(std::move(model)),
        added_(std::move(added)),
        normalizer_(std::move(normalizer)),
        pre_tokenizer_(std::move(pre_tokenizer)),
        post_processor_(std::move(post_processor)),
        decoder_(std::move(decoder)) {
    vocab_size_ = model_.id_limit();
    for (const AddedToken& token : added_.tokens()) vocab_size_ = std::max(vocab_size_, token.id + 1);
  }

  std::vector<int32_t> Encode(std::string_view text, bool add_special_tokens) const override {
    std::string valid = common::IsValidUtf8(text) ? std::string(text) : common::ToValidUtf8(text);
    std::vector<int32_t> ids;
    for (const AddedTokenSplit& raw : added_.Split(valid, /*normalized_tokens=*/false)) {
      if (raw.id) {
        ids.push_back(*raw.id);
        continue;
      }
      std::string normalized = normalizer_.Normalize(valid.substr(raw.span.begin, raw.span.end - raw.span.begin));
      for (const AddedTokenSplit& split : added_.Split(normalized, /*normalized_tokens=*/true)) {
        if (split.id) {
          ids.push_back(*split.id);
          continue;
        }
        std::vector<TextPiece> words = {{normalized.substr(split.span.begin, split.span.end - split.span.begin),
                                         raw.span.begin == 0 && split.span.begin == 0}};
        pre_tokenizer_.PreTokenize(words);
        for (const TextPiece& word : words) model_.Tokenize(word.text, ids);
      }
    }
    return add_special_tokens ? post_processor_.Process(std::move(ids)) : ids;
  }

  std::string Decode(std::span<const int32_t> ids, bool skip_special_tokens) const override {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) {
      if (const AddedToken* added = added_.FindById(id)) {
        if (!(skip_special_tokens && added->special)) tokens.push_back(added->content);
      } else if (const std::string* token = model_.IdToToken(id)) {
        if (!(skip_special_tokens && added_.IsSpecial(*token))) tokens.push_back(*token);
      }
    }
    return decoder_.Decode(std::move(tokens));
  }

  int32_t vocab_size() const override { return vocab_size_; }

  std::optional<int32_t> TokenToId(std::string_view token) const override {
    if (std::optional<int32_t> id = added_.TokenToId(token)) return id;
    return model_.TokenToId(token);
  }

  std::optional<int32_t> bos_id() const override { return bos_id_; }
  std::optional<int32_t> eos_id() const override { return eos_id_; }

  common::Status SetSpecialTokens(const TokenizerConfig& config) {
    bos_id_ = post_processor_.leading_id();
    eos_id_ = post_processor_.trailing_id();
    const auto resolve = [this](const std::optional<std::string>& name, const char* field,
                                std::optional<int32_t>& id) -> common::Status {
      if (!name) return common::Status::Ok();
      id = TokenToId(*name);
      if (!id) {
        return common::Status::InvalidArgument(std::string("tokenizer_config.json: ") + field + " " + QuoteForMessage(*name) +
                                       " is not in the tokenizer's vocabulary");
      }
      return common::Status::Ok();
    };
    GRADIENTS_RETURN_IF_ERROR(resolve(config.bos_token, "bos_token", bos_id_));
    return resolve(config.eos_token, "eos_token", eos_id_);
  }

 private:
  BpeModel model_;
  AddedVocabulary added_;
  TextNormalizer normalizer_;
  PreTokenizer pre_tokenizer_;
  PostProcessor post_processor_;
  TokenDecoder decoder_;
  int32_t vocab_size_ = 0;
  std::optional<int32_t> bos_id_;
  std::optional<int32_t> eos_id_;
};

common::Result<std::vector<std::pair<std::string, std::string>>> ParseMerges(const nlohmann::json& model) {
  const nlohmann::json* merges = FindJsonField(model, "merges");
  if (merges == nullptr) return std::vector<std::pair<std::string, std::string>>();
  if (!merges->is_array()) return JsonFieldError("model.merges", "expected an array");
  std::vector<std::pair<std::string, std::string>> result;
  result.reserve(merges->size());
  for (size_t i = 0; i < merges->size(); ++i) {
    std::string path = JsonIndexPath("model.merges", i);
    const nlohmann::json& merge = (*merges)[i];
    if (merge.is_string()) {
      GRADIENTS_ASSIGN_OR_RETURN(std::string line, JsonToUtf8String(merge, path));
      if (line.rfind("#version", 0) == 0) continue;
      size_t space = line.find(' ');
      if (space == std::string::npos || line.find(' ', space + 1) != std::string::npos) {
        return JsonFieldError(path, "expected \"left right\" with exactly one space, got " + common::JsonSnippet(merge));
      }
      result.emplace_back(line.substr(0, space), line.substr(space + 1));
    } else if (merge.is_array() && merge.size() == 2) {
      GRADIENTS_ASSIGN_OR_RETURN(std::string left, JsonToUtf8String(merge[0], JsonIndexPath(path, 0)));
      GRADIENTS_ASSIGN_OR_RETURN(std::string right, JsonToUtf8String(merge[1], JsonIndexPath(path, 1)));
      result.emplace_back(std::move(left), std::move(right));
    } else {
      return JsonFieldError(path, "expected \"left right\" or [left, right], got " + common::JsonSnippet(merge));
    }
  }
  return result;
}

common::Result<BpeModel> ParseBpeModel(const nlohmann::json& json) {
  const nlohmann::json* model = FindJsonField(json, "model");
  if (model == nullptr) return JsonFieldError("model", "required field is missing");
  GRADIENTS_ASSIGN_OR_RETURN(std::string type, ReadJsonType(*model, "model"));
  if (type != "BPE") return JsonFieldError("model.type", "unsupported model " + QuoteForMessage(type) + " (supported: BPE)");
  if (const nlohmann::json* dropout = FindJsonField(*model, "dropout")) {
    if (!dropout->is_number() || dropout->get<double>() != 0.0) {
      return JsonFieldError("model.dropout", "BPE dropout makes encoding random and is not supported, got " +
                                                 common::JsonSnippet(*dropout));
    }
  }
  const nlohmann::json* vocab_json = FindJsonField(*model, "vocab");
  if (vocab_json == nullptr || !vocab_json->is_object()) {
    return JsonFieldError("model.vocab", "expected an object of token: id");
  }
  TokenIdMap vocab;
  vocab.reserve(vocab_json->size());
  for (const auto& [token, id] : vocab_json->items()) {
    if (!IsNonNegativeJsonInteger(id) || id.get<uint64_t>() > static_cast<uint64_t>(INT32_MAX)) {
      return JsonFieldError("model.vocab." + QuoteForMessage(token), "expected a non-negative id, got " + common::JsonSnippet(id));
    }
    if (!common::IsValidUtf8(token)) return JsonFieldError("model.vocab", "a token is not valid UTF-8");
    vocab.emplace(token, static_cast<int32_t>(id.get<uint64_t>()));
  }
  GRADIENTS_ASSIGN_OR_RETURN(auto merges, ParseMerges(*model));
  BpeModelOptions options;
  GRADIENTS_ASSIGN_OR_RETURN(options.unk_token, ReadOptionalJsonString(*model, "unk_token", "model"));
  GRADIENTS_ASSIGN_OR_RETURN(options.fuse_unk, ReadJsonBool(*model, "fuse_unk", "model", false));
  GRADIENTS_ASSIGN_OR_RETURN(options.byte_fallback, ReadJsonBool(*model, "byte_fallback", "model", false));
  GRADIENTS_ASSIGN_OR_RETURN(options.ignore_merges, ReadJsonBool(*model, "ignore_merges", "model", false));
  GRADIENTS_ASSIGN_OR_RETURN(auto prefix, ReadOptionalJsonString(*model, "continuing_subword_prefix", "model"));
  GRADIENTS_ASSIGN_OR_RETURN(auto suffix, ReadOptionalJsonString(*model, "end_of_word_suffix", "model"));
  options.continuing_subword_prefix = prefix.value_or("");
  options.end_of_word_suffix = suffix.value_or("");
  common::Result<BpeModel> bpe = BpeModel::Create(std::move(vocab), merges, std::move(options));
  if (!bpe.ok()) return bpe.status().WithContext("model");
  return bpe;
}

// The added tokens, with the ids Hugging Face gives them: the vocabulary's id for a token the
// model already has, else the next id after the model's and the earlier added tokens'. A file
// whose declared ids disagree is rejected: Hugging Face would silently use other ids.
common::Result<std::vector<AddedToken>> ParseAddedTokens(const nlohmann::json& json, const BpeModel& model) {
  std::vector<AddedToken> tokens;
  const nlohmann::json* list = FindJsonField(json, "added_tokens");
  if (list == nullptr) return tokens;
  if (!list->is_array()) return JsonFieldError("added_tokens", "expected an array");
  if (list->size() > kMaxAddedTokens) return JsonFieldError("added_tokens", "too many added tokens");
  const auto model_size = static_cast<int64_t>(model.size());
  std::optional<int64_t> max_added_id;
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < list->size(); ++i) {
    std::string path = JsonIndexPath("added_tokens", i);
    const nlohmann::json& item = (*list)[i];
    GRADIENTS_RETURN_IF_ERROR(ExpectJsonObject(item, path));
    AddedToken token;
    GRADIENTS_ASSIGN_OR_RETURN(int64_t declared_id, ReadJsonInteger(item, "id", path, -1, INT32_MAX));
    if (declared_id < 0) return JsonFieldError(JsonChildPath(path, "id"), "required field is missing");
    GRADIENTS_ASSIGN_OR_RETURN(token.content, ReadJsonString(item, "content", path));
    GRADIENTS_ASSIGN_OR_RETURN(token.single_word, ReadJsonBool(item, "single_word", path, false));
    GRADIENTS_ASSIGN_OR_RETURN(token.lstrip, ReadJsonBool(item, "lstrip", path, false));
    GRADIENTS_ASSIGN_OR_RETURN(token.rstrip, ReadJsonBool(item, "rstrip", path, false));
    GRADIENTS_ASSIGN_OR_RETURN(token.normalized, ReadJsonBool(item, "normalized", path, true));
    GRADIENTS_ASSIGN_OR_RETURN(token.special, ReadJsonBool(item, "special", path, false));
    if (token.content.empty()) continue;  // Hugging Face ignores empty added tokens
    if (!seen.insert(token.content).second) {
      return JsonFieldError(path, QuoteForMessage(token.content) + " is listed twice");
    }
    int64_t assigned;
    if (std::optional<int32_t> existing = model.TokenToId(token.content)) {
      assigned = *existing;
    } else if (!max_added_id) {
      assigned = model_size;
    } else {
      assigned = (*max_added_id >= model_size || model_size == 0) ? *max_added_id + 1 : model_size;
    }
    if (assigned != declared_id) {
      return JsonFieldError(JsonChildPath(path, "id"), QuoteForMessage(token.content) + " declares id " +
                                                           std::to_string(declared_id) + " but Hugging Face gives it " +
                                                           std::to_string(assigned));
    }
    max_added_id = std::max(max_added_id.value_or(assigned), assigned);
    token.id = static_cast<int32_t>(assigned);
    tokens.push_back(std::move(token));
  }
  return tokens;
}

}  // namespace

common::Result<TokenizerConfig> ParseTokenizerConfig(const nlohmann::json& json) {
  TokenizerConfig config;
  GRADIENTS_RETURN_IF_ERROR(ExpectJsonObject(json, ""));
  const auto read_token = [&json](const char* key, std::optional<std::string>& out) -> common::Status {
    const nlohmann::json* value = FindJsonField(json, key);
    if (value == nullptr) return common::Status::Ok();
    if (value->is_object()) {
      GRADIENTS_ASSIGN_OR_RETURN(out, ReadJsonString(*value, "content", key));
    } else {
      GRADIENTS_ASSIGN_OR_RETURN(out, JsonToUtf8String(*value, key));
    }
    return common::Status::Ok();
  };
  GRADIENTS_RETURN_IF_ERROR(read_token("bos_token", config.bos_token));
  GRADIENTS_RETURN_IF_ERROR(read_token("eos_token", config.eos_token));
  GRADIENTS_ASSIGN_OR_RETURN(config.add_bos_token, ReadJsonBool(json, "add_bos_token", "", true));
  GRADIENTS_ASSIGN_OR_RETURN(config.add_eos_token, ReadJsonBool(json, "add_eos_token", "", false));
  return config;
}

common::Result<std::unique_ptr<Tokenizer>> CreateHuggingFaceTokenizer(const nlohmann::json& json,
                                                              const TokenizerConfig& config) {
  GRADIENTS_RETURN_IF_ERROR(ExpectJsonObject(json, ""));
  GRADIENTS_ASSIGN_OR_RETURN(std::optional<std::string> version, ReadOptionalJsonString(json, "version", ""));
  if (version && *version != "1.0") return JsonFieldError("version", "unknown tokenizer.json version " + QuoteForMessage(*version));
  GRADIENTS_ASSIGN_OR_RETURN(BpeModel model, ParseBpeModel(json));
  GRADIENTS_ASSIGN_OR_RETURN(std::vector<AddedToken> added_tokens, ParseAddedTokens(json, model));
  static const nlohmann::json kNull;
  const auto field = [&json](const char* key) -> const nlohmann::json& {
    const nlohmann::json* value = FindJsonField(json, key);
    return value == nullptr ? kNull : *value;
  };
  GRADIENTS_ASSIGN_OR_RETURN(TextNormalizer normalizer, TextNormalizer::Parse(field("normalizer"), "normalizer"));
  GRADIENTS_ASSIGN_OR_RETURN(PreTokenizer pre_tokenizer, PreTokenizer::Parse(field("pre_tokenizer"), "pre_tokenizer"));
  GRADIENTS_ASSIGN_OR_RETURN(TokenDecoder decoder, TokenDecoder::Parse(field("decoder"), "decoder"));
  const auto is_known_id = [&model, &added_tokens](int64_t id) {
    if (id <= INT32_MAX && model.IdToToken(static_cast<int32_t>(id)) != nullptr) return true;
    return std::any_of(added_tokens.begin(), added_tokens.end(), [id](const AddedToken& t) { return t.id == id; });
  };
  GRADIENTS_ASSIGN_OR_RETURN(PostProcessor post_processor,
                             PostProcessor::Parse(field("post_processor"), "post_processor", is_known_id));

  AddedVocabulary added(std::move(added_tokens),
                        [&normalizer](std::string content) { return normalizer.Normalize(std::move(content)); });
  auto tokenizer = std::make_unique<HuggingFaceTokenizer>(std::move(model), std::move(added), std::move(normalizer),
                                                          std::move(pre_tokenizer), std::move(post_processor),
                                                          std::move(decoder));
  GRADIENTS_RETURN_IF_ERROR(tokenizer->SetSpecialTokens(config));
  return std::unique_ptr<Tokenizer>(std::move(tokenizer));
}

}  // namespace gradients::text
