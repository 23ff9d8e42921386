// Miners and their claims: who holds the right to submit to which task, the miners the validator
// has seen, their progress reports and their declined offers. One record family of the validator's
// store (validator/state/store.h: every method is one transaction; implementations are safe to
// call from several threads).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gradients::validator {

// A miner's right to submit to a task.
struct ClaimRecord {
  std::string task_id{};
  std::string miner{};  // public key, hex
  std::string nonce{};  // hex; bound into the miner's checkpoint envelope
  int64_t claimed_at_ms = 0;
  int64_t uploads = 0;  // verified uploads so far (each re-upload counts)
  std::string progress{};   // the latest progress report (JSON of TrainingProgress); empty: none
  int64_t progress_at_ms = 0;
  int64_t sequence = 0;     // claim order across all tasks
  friend bool operator==(const ClaimRecord&, const ClaimRecord&) = default;
};

// A miner the validator has seen, with its totals.
struct MinerRecord {
  std::string key{};  // public key, hex
  int64_t first_seen_ms = 0;
  int64_t last_seen_ms = 0;  // its latest authentication or subscription
  std::string client_version{};
  std::string capacity{};  // its latest declared capacity (JSON of MinerCapacity); empty: never subscribed
  int64_t active_claims = 0;  // on tasks offering, training or evaluating
  int64_t total_claims = 0;
  int64_t total_submissions = 0;  // verified uploads
  double total_points = 0;        // over scored tasks
  friend bool operator==(const MinerRecord&, const MinerRecord&) = default;
};

struct MinerClaims {
  std::string miner{};
  int64_t last_claim_at_ms = 0;
  int64_t active_claims = 0;
  friend bool operator==(const MinerClaims&, const MinerClaims&) = default;
};

class ClaimStore {
 public:
  virtual ~ClaimStore() = default;

  // A miner's claim on a task, in one transaction. The same miner again gets its existing claim
  // (also after the pool closed); a new claim needs the task offering, its offer window open,
  // before its deadline, with room in its pool, and the claim that fills the pool moves the task to
  // training (the rules: DecideClaim, validator/market/claim_rules.h).
  // FailedPrecondition says which does not hold; NotFound for an unknown task.
  virtual common::Result<ClaimRecord> ClaimTask(std::string_view task_id, std::string_view miner,
                                                std::string_view nonce, int64_t now_ms) = 0;
  // In claim order.
  virtual common::Result<std::vector<ClaimRecord>> ListClaims(std::string_view task_id) = 0;
  // NotFound when the miner has no claim on the task.
  virtual common::Result<ClaimRecord> GetClaim(std::string_view task_id, std::string_view miner) = 0;
  // A miner's claims, newest first: those with a sequence below `before_sequence` (0: any), at
  // most `limit`; only the claim on `task_id` when it is not empty.
  virtual common::Result<std::vector<ClaimRecord>> ListClaimsOfMiner(std::string_view miner, std::string_view task_id,
                                                                     int64_t before_sequence, int64_t limit) = 0;
  // Notes that a miner authenticated or subscribed; an empty version or capacity keeps the last.
  virtual common::Status RecordMinerSeen(std::string_view miner, std::string_view client_version,
                                         std::string_view capacity, int64_t at_ms) = 0;
  // Most recently seen first, from the `offset`th, at most `limit`.
  virtual common::Result<std::vector<MinerRecord>> ListMiners(int64_t offset, int64_t limit) = 0;
  // Per miner that ever claimed a task: its latest claim and its claims on tasks still offering or
  // training (what offers are ordered and capped by).
  virtual common::Result<std::vector<MinerClaims>> ListMinerClaims() = 0;
  // Whether `blob` is a file of the base model or the training split of a task the miner claimed
  // (never the hidden test split).
  virtual common::Result<bool> MayFetchBlob(std::string_view miner, std::string_view blob) = 0;
  // Keeps a claim's latest progress report (opaque to the store). NotFound without a claim;
  // ResourceExhausted when the previous report is less than `min_interval_ms` old.
  virtual common::Status RecordProgress(std::string_view task_id, std::string_view miner, std::string_view progress,
                                        int64_t at_ms, int64_t min_interval_ms) = 0;
  // A miner's "no" to an offer, kept for the operator (why offers go untaken); the first one per
  // miner and task counts. FailedPrecondition unless the task is offering.
  virtual common::Status RecordDecline(std::string_view task_id, std::string_view miner, std::string_view reason,
                                       std::string_view detail, int64_t at_ms) = 0;
};

}  // namespace gradients::validator
