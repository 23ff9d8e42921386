// A byte-pair-encoding model as Hugging Face's `models::bpe::BPE` runs it: a word's characters
// (or their bytes, with byte fallback) are merged pair by pair, lowest merge rank first and
// leftmost first among equal ranks, until no ranked pair is left.
//
// Thread-safe: Tokenize may be called concurrently; results of short words are cached.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/status.h"

namespace gradients::text {

struct BpeModelOptions {
  // Characters missing from the vocabulary (and not byte-fallen-back) become this token; without
  // one they are dropped, as Hugging Face drops them.
  std::optional<std::string> unk_token;
  // Consecutive unknown characters become one unk token.
  bool fuse_unk = false;
  // Characters missing from the vocabulary become their UTF-8 bytes as "<0xAB>" tokens.
  bool byte_fallback = false;
  // A word that is itself in the vocabulary is one token, whatever the merges say (Llama-3).
  bool ignore_merges = false;
  // Prefix of every symbol but a word's first, and suffix of its last (subword-nmt style).
  std::string continuing_subword_prefix;
  std::string end_of_word_suffix;
};

// Hash and equality that let maps keyed by std::string be searched with a string_view.
struct StringViewHash {
  using is_transparent = void;
  size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
};
using TokenIdMap = std::unordered_map<std::string, int32_t, StringViewHash, std::equal_to<>>;

class BpeModel {
 public:
  // `vocab` maps tokens to ids (unique, non-negative); `merges` are in rank order. Errors name the
  // offending merge by its index ("merges[12]: ...") or the unknown unk token.
  static common::Result<BpeModel> Create(TokenIdMap vocab, const std::vector<std::pair<std::string, std::string>>& merges,
                                 BpeModelOptions options);

  BpeModel(BpeModel&&) = default;
  BpeModel& operator=(BpeModel&&) = default;
  // Not copyable: id_to_token_ points into vocab_.
  BpeModel(const BpeModel&) = delete;
  BpeModel& operator=(const BpeModel&) = delete;

  // Appends the ids of `word` (non-empty, valid UTF-8) to `ids`.
  void Tokenize(std::string_view word, std::vector<int32_t>& ids) const;

  std::optional<int32_t> TokenToId(std::string_view token) const;
  // The token of `id`, or nullptr when no token has it.
  const std::string* IdToToken(int32_t id) const;
  // One past the largest id.
  int32_t id_limit() const { return static_cast<int32_t>(id_to_token_.size()); }
  size_t size() const { return vocab_.size(); }

 private:
  struct MergeTarget {
    uint32_t rank;
    int32_t new_id;
  };
  struct Symbol {
    int32_t id;
    int32_t prev;
    int32_t next;
    uint32_t byte_length;  // 0 once merged into its left neighbour
  };
  struct Cache;

  BpeModel() = default;
  std::vector<Symbol> InitialSymbols(std::string_view word) const;
  void MergeAll(std::vector<Symbol>& symbols) const;
  const MergeTarget* FindMerge(int32_t left, int32_t right) const;

  TokenIdMap vocab_;
  std::vector<const std::string*> id_to_token_;
  std::unordered_map<uint64_t, MergeTarget> merges_;
  BpeModelOptions options_;
  std::optional<int32_t> unk_id_;
  std::array<std::optional<int32_t>, 256> byte_ids_{};
  std::shared_ptr<Cache> cache_;
};

}  // namespace gradients::text
