#include "text/tokenizer_added_tokens.h"

#include "text/tokenizer_unicode.h"

namespace gradients::text {
namespace {

// The start of the last character of `text` (non-empty, valid UTF-8).
size_t LastCharacterStart(std::string_view text) {
  size_t pos = text.size() - 1;
  while (pos > 0 && (static_cast<unsigned char>(text[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

bool EndsWithWordCharacter(std::string_view text) {
  if (text.empty()) return false;
  size_t length = 0;
  return IsUnicodeWordCharacter(DecodeUtf8(text, LastCharacterStart(text), &length));
}

bool StartsWithWordCharacter(std::string_view text) {
  if (text.empty()) return false;
  size_t length = 0;
  return IsUnicodeWordCharacter(DecodeUtf8(text, 0, &length));
}

// Where the whitespace run that ends `text` begins.
size_t TrailingWhitespaceStart(std::string_view text) {
  size_t end = text.size();
  while (end > 0) {
    size_t start = LastCharacterStart(text.substr(0, end)), length = 0;
    if (!IsUnicodeWhitespace(DecodeUtf8(text, start, &length))) break;
    end = start;
  }
  return end;
}

// The length of the whitespace run that starts `text`.
size_t LeadingWhitespaceLength(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t length = 0;
    if (!IsUnicodeWhitespace(DecodeUtf8(text, pos, &length))) break;
    pos += length;
  }
  return pos;
}

}  // namespace

void AddedVocabulary::Trie::Insert(std::string_view pattern, int32_t index) {
  int32_t node = 0;
  for (char c : pattern) {
    auto& edges = children[static_cast<size_t>(node)];
    auto it = edges.find(static_cast<unsigned char>(c));
    if (it == edges.end()) {
      int32_t child = static_cast<int32_t>(children.size());
      edges.emplace(static_cast<unsigned char>(c), child);
      children.emplace_back();
      token_index.push_back(-1);
      node = child;
    } else {
      node = it->second;
    }
  }
  // The first token with this pattern keeps it (two normalized tokens may normalize alike).
  if (token_index[static_cast<size_t>(node)] < 0) token_index[static_cast<size_t>(node)] = index;
}

std::pair<size_t, int32_t> AddedVocabulary::Trie::LongestAt(std::string_view text, size_t pos) const {
  std::pair<size_t, int32_t> best{0, -1};
  int32_t node = 0;
  for (size_t i = pos; i < text.size(); ++i) {
    const auto& edges = children[static_cast<size_t>(node)];
    auto it = edges.find(static_cast<unsigned char>(text[i]));
    if (it == edges.end()) break;
    node = it->second;
    if (token_index[static_cast<size_t>(node)] >= 0) best = {i + 1 - pos, token_index[static_cast<size_t>(node)]};
  }
  return best;
}

AddedVocabulary::AddedVocabulary(std::vector<AddedToken> tokens,
                                 const std::function<std::string(std::string)>& normalize)
    : tokens_(std::move(tokens)) {
  // Hugging Face lists special tokens before the others in its matchers; with leftmost-longest
  // matching over distinct patterns the order only matters for patterns that normalize alike.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t i = 0; i < tokens_.size(); ++i) {
      const AddedToken& token = tokens_[i];
      if (token.special != (pass == 0)) continue;
      if (token.normalized) {
        std::string pattern = normalize(token.content);
        if (!pattern.empty()) normalized_trie_.Insert(pattern, static_cast<int32_t>(i));
      } else {
        raw_trie_.Insert(token.content, static_cast<int32_t>(i));
      }
    }
  }
  for (size_t i = 0; i < tokens_.size(); ++i) {
    index_by_content_.emplace(tokens_[i].content, i);
    index_by_id_.emplace(tokens_[i].id, i);
  }
}

std::vector<AddedTokenSplit> AddedVocabulary::Split(std::string_view text, bool normalized_tokens) const {
  const Trie& trie = normalized_tokens ? normalized_trie_ : raw_trie_;
  std::vector<AddedTokenSplit> splits;
  if (trie.children.size() == 1) {  // no tokens to look for
    if (!text.empty()) splits.push_back({{0, text.size()}, std::nullopt});
    return splits;
  }
  size_t start_offset = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    auto [length, index] = trie.LongestAt(text, pos);
    if (length == 0) {
      ++pos;
      continue;
    }
    size_t start = pos, stop = pos + length;
    // The search resumes after the match even when the match is then discarded.
    pos = stop;
    const AddedToken& token = tokens_[static_cast<size_t>(index)];
    if (token.single_word) {
      bool space_before = start == 0 || !EndsWithWordCharacter(text.substr(0, start));
      bool space_after = stop == text.size() || !StartsWithWordCharacter(text.substr(stop));
      if (!space_before || !space_after) continue;
    }
    if (token.lstrip) start = std::max(TrailingWhitespaceStart(text.substr(0, start)), start_offset);
    if (token.rstrip) stop += LeadingWhitespaceLength(text.substr(stop));
    if (start < start_offset) continue;
    if (start_offset < start) splits.push_back({{start_offset, start}, std::nullopt});
    splits.push_back({{start, stop}, token.id});
    start_offset = stop;
    pos = std::max(pos, stop);
  }
  if (start_offset < text.size()) splits.push_back({{start_offset, text.size()}, std::nullopt});
  return splits;
}

std::optional<int32_t> AddedVocabulary::TokenToId(std::string_view content) const {
  auto it = index_by_content_.find(std::string(content));
  if (it == index_by_content_.end()) return std::nullopt;
  return tokens_[it->second].id;
}

const AddedToken* AddedVocabulary::FindById(int32_t id) const {
  auto it = index_by_id_.find(id);
  return it == index_by_id_.end() ? nullptr : &tokens_[it->second];
}

bool AddedVocabulary::IsSpecial(std::string_view content) const {
  auto it = index_by_content_.find(std::string(content));
  return it != index_by_content_.end() && tokens_[it->second].special;
}

}  // namespace gradients::text
