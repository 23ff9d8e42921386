#include "text/bpe_model.h"

#include <cstdio>
#include <mutex>
#include <queue>
#include <shared_mutex>

#include "text/tokenizer_json_fields.h"
#include "text/tokenizer_unicode.h"

namespace gradients::text {
namespace {

// Words at least this long are not cached (Hugging Face's MAX_LENGTH): long words are rare and
// would crowd out the common ones.
constexpr size_t kMaxCachedWordBytes = 256;
constexpr size_t kCacheCapacity = 1 << 16;
// Ids above this are refused: the id-to-token table is dense.
constexpr int64_t kMaxTokenId = (1 << 22) - 1;

uint64_t PairKey(int32_t left, int32_t right) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
}

}  // namespace

struct BpeModel::Cache {
  std::shared_mutex mutex;
  std::unordered_map<std::string, std::vector<int32_t>, StringViewHash, std::equal_to<>> words;
};

common::Result<BpeModel> BpeModel::Create(TokenIdMap vocab, const std::vector<std::pair<std::string, std::string>>& merges,
                                  BpeModelOptions options) {
  BpeModel model;
  int64_t max_id = -1;
  for (const auto& [token, id] : vocab) {
    if (id < 0 || id > kMaxTokenId) {
      return common::Status::InvalidArgument("vocab: id " + std::to_string(id) + " of " + QuoteForMessage(token) +
                                     " is outside 0.." + std::to_string(kMaxTokenId));
    }
    max_id = std::max<int64_t>(max_id, id);
  }
  model.vocab_ = std::move(vocab);
  model.id_to_token_.assign(static_cast<size_t>(max_id + 1), nullptr);
  for (const auto& [token, id] : model.vocab_) {
    const std::string*& slot = model.id_to_token_[static_cast<size_t>(id)];
    if (slot != nullptr) {
      return common::Status::InvalidArgument("vocab: id " + std::to_string(id) + " is given to both " + QuoteForMessage(*slot) +
                                     " and " + QuoteForMessage(token));
    }
    slot = &token;
  }

  size_t prefix_length = options.continuing_subword_prefix.size();
  model.merges_.reserve(merges.size());
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    std::string where = "merges[" + std::to_string(rank) + "]: ";
    std::optional<int32_t> left_id = model.TokenToId(left), right_id = model.TokenToId(right);
    if (!left_id) return common::Status::InvalidArgument(where + QuoteForMessage(left) + " is not in the vocabulary");
    if (!right_id) return common::Status::InvalidArgument(where + QuoteForMessage(right) + " is not in the vocabulary");
    if (right.compare(0, prefix_length, options.continuing_subword_prefix) != 0) {
      return common::Status::InvalidArgument(where + QuoteForMessage(right) + " lacks the continuing subword prefix");
    }
    std::string merged = left + right.substr(prefix_length);
    std::optional<int32_t> merged_id = model.TokenToId(merged);
    if (!merged_id) return common::Status::InvalidArgument(where + "the merged token " + QuoteForMessage(merged) + " is not in the vocabulary");
    // A repeated pair takes its last rank, as in Hugging Face's map built from the list.
    model.merges_[PairKey(*left_id, *right_id)] = {static_cast<uint32_t>(rank), *merged_id};
  }

  if (options.unk_token) {
    model.unk_id_ = model.TokenToId(*options.unk_token);
    if (!model.unk_id_) return common::Status::InvalidArgument("unk_token " + QuoteForMessage(*options.unk_token) + " is not in the vocabulary");
  }
  for (int byte = 0; byte < 256; ++byte) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", byte);
    model.byte_ids_[static_cast<size_t>(byte)] = model.TokenToId(name);
  }
  model.options_ = std::move(options);
  model.cache_ = std::make_shared<Cache>();
  return model;
}

std::optional<int32_t> BpeModel::TokenToId(std::string_view token) const {
  auto it = vocab_.find(token);
  if (it == vocab_.end()) return std::nullopt;
  return it->second;
}

const std::string* BpeModel::IdToToken(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return nullptr;
  return id_to_token_[static_cast<size_t>(id)];
}

const BpeModel::MergeTarget* BpeModel::FindMerge(int32_t left, int32_t right) const {
  auto it = merges_.find(PairKey(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

std::vector<BpeModel::Symbol> BpeModel::InitialSymbols(std::string_view word) const {
  std::vector<Symbol> symbols;
  symbols.reserve(word.size());
  const auto add = [&symbols](int32_t id, size_t byte_length) {
    int32_t index = static_cast<int32_t>(symbols.size());
    if (!symbols.empty()) symbols.back().next = index;
    symbols.push_back({id, index - 1, -1, static_cast<uint32_t>(byte_length)});
  };
  // A pending unk token and the bytes it covers; flushed when a known character follows.
  bool unk_pending = false;
  size_t unk_length = 0;
  std::string symbol;
  size_t pos = 0;
  while (pos < word.size()) {
    size_t length = Utf8SequenceLength(static_cast<unsigned char>(word[pos]));
    length = std::min(length, word.size() - pos);
    bool is_first = pos == 0, is_last = pos + length == word.size();
    symbol.clear();
    if (!is_first) symbol += options_.continuing_subword_prefix;
    symbol.append(word.substr(pos, length));
    if (is_last) symbol += options_.end_of_word_suffix;
    pos += length;

    if (std::optional<int32_t> id = TokenToId(symbol)) {
      if (unk_pending) {
        add(*unk_id_, unk_length);
        unk_pending = false;
      }
      add(*id, length);
      continue;
    }
    if (options_.byte_fallback) {
      bool all_bytes_known = true;
      for (char c : symbol) all_bytes_known = all_bytes_known && byte_ids_[static_cast<unsigned char>(c)].has_value();
      if (all_bytes_known) {
        // As in Hugging Face, a pending unk is not flushed here: it lands after these bytes.
        for (char c : symbol) add(*byte_ids_[static_cast<unsigned char>(c)], 1);
        continue;
      }
    }
    if (unk_id_) {
      if (unk_pending && options_.fuse_unk) {
        unk_length += length;
      } else {
        if (unk_pending) add(*unk_id_, unk_length);
        unk_pending = true;
        unk_length = length;
      }
    }
  }
  if (unk_pending) add(*unk_id_, unk_length);
  return symbols;
}

void BpeModel::MergeAll(std::vector<Symbol>& symbols) const {
  struct Candidate {
    uint32_t rank;
    int32_t pos;
    int32_t new_id;
  };
  // Lowest rank first, then leftmost.
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> queue(later);
  for (size_t i = 0; i + 1 < symbols.size(); ++i) {
    if (const MergeTarget* merge = FindMerge(symbols[i].id, symbols[i + 1].id)) {
      queue.push({merge->rank, static_cast<int32_t>(i), merge->new_id});
    }
  }
  const auto size = static_cast<int32_t>(symbols.size());
  while (!queue.empty()) {
    Candidate top = queue.top();
    queue.pop();
    Symbol& current = symbols[static_cast<size_t>(top.pos)];
    if (current.byte_length == 0 || current.next == -1) continue;
    int32_t next_pos = current.next;
    Symbol right = symbols[static_cast<size_t>(next_pos)];
    // Skip stale entries: the pair at this position has changed since it was queued.
    const MergeTarget* merge = FindMerge(current.id, right.id);
    if (merge == nullptr || merge->new_id != top.new_id) continue;

    current.id = top.new_id;
    current.byte_length += right.byte_length;
    current.next = right.next;
    symbols[static_cast<size_t>(next_pos)].byte_length = 0;
    if (right.next > -1 && right.next < size) symbols[static_cast<size_t>(right.next)].prev = top.pos;

    if (current.prev >= 0) {
      if (const MergeTarget* left_merge = FindMerge(symbols[static_cast<size_t>(current.prev)].id, current.id)) {
        queue.push({left_merge->rank, current.prev, left_merge->new_id});
      }
    }
    if (current.next > -1 && current.next < size) {
      if (const MergeTarget* right_merge = FindMerge(current.id, symbols[static_cast<size_t>(current.next)].id)) {
        queue.push({right_merge->rank, top.pos, right_merge->new_id});
      }
    }
  }
}

void BpeModel::Tokenize(std::string_view word, std::vector<int32_t>& ids) const {
  if (word.empty()) return;
  if (options_.ignore_merges) {
    if (std::optional<int32_t> id = TokenToId(word)) {
      ids.push_back(*id);
      return;
    }
  }
  bool cacheable = word.size() < kMaxCachedWordBytes;
  if (cacheable) {
    std::shared_lock lock(cache_->mutex);
    auto it = cache_->words.find(word);
    if (it != cache_->words.end()) {
      ids.insert(ids.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  std::vector<Symbol> symbols = InitialSymbols(word);
  MergeAll(symbols);
  size_t first = ids.size();
  for (const Symbol& symbol : symbols) {
    if (symbol.byte_length != 0) ids.push_back(symbol.id);
  }
  if (cacheable) {
    std::unique_lock lock(cache_->mutex);
    if (cache_->words.size() < kCacheCapacity) {
      cache_->words.emplace(std::string(word), std::vector<int32_t>(ids.begin() + static_cast<std::ptrdiff_t>(first), ids.end()));
    }
  }
}

}  // namespace gradients::text
