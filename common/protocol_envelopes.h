// The envelopes of the MinerGateway protocol (proto/gradients/v1/checkpoint.proto, SignedEnvelope):
// what a miner signs and what the validator rebuilds from its own state to compare with. Both
// sides build them here, so their field names and order cannot drift apart.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

#include "common/digest.h"
#include "common/envelope.h"
#include "common/keys.h"

namespace gradients::common {

inline constexpr std::string_view kAuthDomain = "gradients/auth/v1";
inline constexpr std::string_view kCheckpointDomain = "gradients/checkpoint/v1";
inline constexpr size_t kNonceBytes = 32;

// A miner's answer to the validator's challenge `nonce`.
Envelope AuthEnvelope(std::string_view validator_id, const PublicKey& miner, std::span<const uint8_t> nonce);

// A miner's signature over a checkpoint: binds the manifest (by its BLAKE2b-256 digest) to one task
// of one validator and to the claim's nonce, so it cannot be replayed for another task, validator
// or claim. `created_at_ms` is the miner's clock, informative only.
Envelope CheckpointEnvelope(std::string_view validator_id, std::string_view task_id, const PublicKey& miner,
                            std::span<const uint8_t> claim_nonce, const Digest& manifest_digest,
                            int64_t created_at_ms);

}  // namespace gradients::common
