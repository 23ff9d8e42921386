#include "text/tokenizer.h"

#include <system_error>

#include "common/config.h"
#include "common/durable_file.h"
#include "common/strict_json.h"
#include "text/sentencepiece_tokenizer.h"
#include "text/tokenizer_huggingface.h"

namespace gradients::text {
namespace {

// Real tokenizer.json files reach ~35 MiB (Gemma 3); SentencePiece models a few MiB.
constexpr uint64_t kMaxTokenizerJsonBytes = 128 << 20;
constexpr uint64_t kMaxSentencePieceModelBytes = 64 << 20;

bool IsRegularFile(const std::filesystem::path& path) {
  std::error_code error;
  return std::filesystem::is_regular_file(path, error);
}

// Whether `path` holds JSON rather than a serialized protobuf: by name, else by its first byte.
bool LooksLikeJson(const std::filesystem::path& path, const std::string& content) {
  if (path.extension() == ".json") return true;
  if (path.extension() == ".model") return false;
  size_t first = content.find_first_not_of(" \t\r\n");
  return first != std::string::npos && content[first] == '{';
}

common::Result<TokenizerConfig> LoadTokenizerConfig(const std::filesystem::path& directory) {
  std::filesystem::path config_path = directory / "tokenizer_config.json";
  if (!IsRegularFile(config_path)) return TokenizerConfig();
  GRADIENTS_ASSIGN_OR_RETURN(nlohmann::json json, common::ReadJsonFile(config_path));
  common::Result<TokenizerConfig> config = ParseTokenizerConfig(json);
  if (!config.ok()) return config.status().WithContext(config_path.string());
  return config;
}

common::Result<std::unique_ptr<Tokenizer>> LoadTokenizerFile(const std::filesystem::path& path) {
  GRADIENTS_ASSIGN_OR_RETURN(TokenizerConfig config, LoadTokenizerConfig(path.parent_path()));
  bool json_by_name = path.extension() == ".json";
  GRADIENTS_ASSIGN_OR_RETURN(std::string content,
                             common::ReadFileToString(path, json_by_name ? kMaxTokenizerJsonBytes : kMaxSentencePieceModelBytes));
  common::Result<std::unique_ptr<Tokenizer>> tokenizer = common::Status::Internal("unreached");
  if (LooksLikeJson(path, content)) {
    common::Result<nlohmann::json> json = common::ParseStrictJson(content);
    if (!json.ok()) return json.status().WithContext(path.string());
    tokenizer = CreateHuggingFaceTokenizer(*json, config);
  } else {
    tokenizer = CreateSentencePieceTokenizer(content, config);
  }
  if (!tokenizer.ok()) return tokenizer.status().WithContext(path.string());
  return tokenizer;
}

}  // namespace

common::Result<std::unique_ptr<Tokenizer>> LoadTokenizer(const std::filesystem::path& path) {
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    for (const char* name : {"tokenizer.json", "tokenizer.model"}) {
      if (IsRegularFile(path / name)) return LoadTokenizerFile(path / name);
    }
    return common::Status::NotFound(path.string() + ": holds neither tokenizer.json nor tokenizer.model");
  }
  if (!std::filesystem::exists(path, error)) return common::Status::NotFound(path.string() + ": no such file or directory");
  return LoadTokenizerFile(path);
}

}  // namespace gradients::text
