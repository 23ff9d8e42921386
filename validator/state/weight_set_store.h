// Weight sets: every computation of reward weights with its canonical inputs, and where each was
// published. One record family of the validator's store (validator/state/store.h: every method is
// one transaction; implementations are safe to call from several threads).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gradients::validator {

// One computation of reward weights: the weights by miner, and the canonical encoding of every
// input (validator/rewards/weight_sets.h) with its digest, so that it can be exported and recomputed.
struct WeightSetRecord {
  int64_t id = 0;  // 1, 2, ... in computation order
  int64_t computed_at_ms = 0;
  int64_t window_start_ms = 0;
  int64_t window_end_ms = 0;
  std::map<std::string, double> weights{};  // miner (hex) -> weight
  std::string inputs{};                     // canonical JSON
  std::string inputs_digest{};              // hex BLAKE2b-256 of `inputs`
  std::string published_to{};               // where it went, empty until published
  int64_t published_at_ms = 0;
  friend bool operator==(const WeightSetRecord&, const WeightSetRecord&) = default;
};

class WeightSetStore {
 public:
  virtual ~WeightSetStore() = default;

  // Stores a weight set and returns it with its id.
  virtual common::Result<WeightSetRecord> AddWeightSet(WeightSetRecord weight_set) = 0;
  // NotFound before the first computation.
  virtual common::Result<WeightSetRecord> LatestWeightSet() = 0;
  // Newest first: those computed at or after `since_ms`, with ids below `before_id` (0: any), at
  // most `limit`.
  virtual common::Result<std::vector<WeightSetRecord>> ListWeightSets(int64_t since_ms, int64_t before_id,
                                                                      int64_t limit) = 0;
  virtual common::Status MarkWeightSetPublished(int64_t id, std::string_view published_to, int64_t at_ms) = 0;
};

}  // namespace gradients::validator
