// Added tokens of a tokenizer.json ("<|im_start|>", "<s>", ...): found in the input before the
// model sees it and kept whole, with Hugging Face's rules for single_word, lstrip, rstrip and
// normalized (`tokenizer::added_vocabulary`).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/tokenizer_regex.h"

namespace gradients::text {

struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool single_word = false;  // matches only when not inside a word
  bool lstrip = false;       // swallows the whitespace on its left
  bool rstrip = false;       // swallows the whitespace on its right
  bool normalized = true;    // matched in the normalized text rather than the raw input
  bool special = false;      // left out by Decode(skip_special_tokens)
};

// A span of text, either an added token (`id` set) or text for the normalizer and model.
struct AddedTokenSplit {
  TextSpan span;
  std::optional<int32_t> id;
};

class AddedVocabulary {
 public:
  AddedVocabulary() = default;

  // `tokens` in file order, contents distinct and non-empty. `normalize` gives the normalized
  // form that tokens with `normalized` set are matched by.
  AddedVocabulary(std::vector<AddedToken> tokens, const std::function<std::string(std::string)>& normalize);

  // Splits `text` at the non-normalized tokens (`normalized_tokens` false) or at the normalized
  // ones (true). The splits cover `text`, in order; a token's span includes what it stripped.
  std::vector<AddedTokenSplit> Split(std::string_view text, bool normalized_tokens) const;

  std::optional<int32_t> TokenToId(std::string_view content) const;
  const AddedToken* FindById(int32_t id) const;
  bool IsSpecial(std::string_view content) const;
  const std::vector<AddedToken>& tokens() const { return tokens_; }

 private:
  // A byte trie over the patterns of one matching set, for leftmost-longest search.
  struct Trie {
    std::vector<std::unordered_map<unsigned char, int32_t>> children{1};
    std::vector<int32_t> token_index{-1};  // per node: the token ending here, or -1
    void Insert(std::string_view pattern, int32_t index);
    // The longest pattern starting at `pos`: its length and token index, or {0, -1}.
    std::pair<size_t, int32_t> LongestAt(std::string_view text, size_t pos) const;
  };

  std::vector<AddedToken> tokens_;
  std::unordered_map<std::string, size_t> index_by_content_;
  std::unordered_map<int32_t, size_t> index_by_id_;
  Trie raw_trie_;
  Trie normalized_trie_;
};

}  // namespace gradients::text
