// The pre-tokenizer of a tokenizer.json: splits normalized text into the words the model
// tokenizes one at a time (Hugging Face `pre_tokenizers`).
//
// Supported: Sequence, Split (String or Regex pattern, every delimiter behavior, invert),
// ByteLevel (with or without the GPT-2 regex, add_prefix_space) and Metaspace (replacement,
// prepend_scheme always/first/never or the older add_prefix_space, split). Others are rejected.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "text/tokenizer_regex.h"

namespace gradients::text {

// A piece of the input on its way to the model.
struct TextPiece {
  std::string text;
  // Whether the piece begins at the very start of the input (Metaspace's prepend_scheme "first").
  bool at_input_start = false;
};

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// Splits `text` around `matches` (sorted, non-overlapping) as Hugging Face's
// `NormalizedString::split` does; empty pieces are dropped.
std::vector<TextSpan> SplitAroundMatches(std::string_view text, const std::vector<TextSpan>& matches,
                                         SplitBehavior behavior, bool invert);

enum class MetaspacePrependScheme { kAlways, kFirst, kNever };

struct MetaspaceSettings {
  std::string replacement;  // one character, "▁" in practice
  MetaspacePrependScheme prepend_scheme = MetaspacePrependScheme::kAlways;
  bool split = true;
};

// The fields of a Metaspace pre-tokenizer or decoder at `path`.
common::Result<MetaspaceSettings> ParseMetaspaceSettings(const nlohmann::json& value, std::string_view path);

// GPT-2's byte-to-character table: byte b is represented by this character in the vocabulary.
const std::string& ByteLevelCharacter(unsigned char byte);

class PreTokenizer {
 public:
  // No splitting: each piece is one word.
  PreTokenizer() = default;

  // Parses the "pre_tokenizer" value at `path` (null gives no splitting).
  static common::Result<PreTokenizer> Parse(const nlohmann::json& value, std::string_view path);

  // Replaces `pieces` by the words they split into (empty words dropped).
  void PreTokenize(std::vector<TextPiece>& pieces) const;

 private:
  enum class Kind { kSplit, kByteLevel, kMetaspace };
  struct Step {
    Kind kind;
    TextPattern pattern;  // Split
    SplitBehavior behavior = SplitBehavior::kIsolated;
    bool invert = false;
    bool add_prefix_space = false;  // ByteLevel
    bool use_regex = true;          // ByteLevel
    MetaspaceSettings metaspace;    // Metaspace
  };

  common::Status ParseInto(const nlohmann::json& value, std::string_view path, int depth);
  static void Apply(const Step& step, const TextPiece& piece, std::vector<TextPiece>& out);

  std::vector<Step> steps_;
};

}  // namespace gradients::text
