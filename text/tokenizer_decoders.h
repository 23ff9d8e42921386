// The decoder of a tokenizer.json: turns token strings back into text (Hugging Face `decoders`).
//
// Supported: ByteLevel, Metaspace, Sequence, Replace, ByteFallback, Fuse, Strip. Without a
// decoder, tokens are joined with spaces, as Hugging Face does.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "text/tokenizer_pre_tokenizers.h"
#include "text/tokenizer_regex.h"

namespace gradients::text {

class TokenDecoder {
 public:
  TokenDecoder() = default;

  // Parses the "decoder" value at `path` (null gives the space-joining default).
  static common::Result<TokenDecoder> Parse(const nlohmann::json& value, std::string_view path);

  std::string Decode(std::vector<std::string> tokens) const;

 private:
  enum class Kind { kByteLevel, kMetaspace, kReplace, kByteFallback, kFuse, kStrip };
  struct Step {
    Kind kind;
    MetaspaceSettings metaspace;  // Metaspace
    TextPattern pattern;          // Replace
    std::string content;          // Replace: the replacement; Strip: the character stripped
    size_t strip_start = 0;       // Strip: at most this many leading `content` characters
    size_t strip_stop = 0;        // Strip: at most this many trailing ones
  };

  common::Status ParseInto(const nlohmann::json& value, std::string_view path, int depth);
  static std::vector<std::string> Apply(const Step& step, std::vector<std::string> tokens);

  bool has_decoder_ = false;
  std::vector<Step> steps_;
};

}  // namespace gradients::text
