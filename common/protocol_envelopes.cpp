#include "common/protocol_envelopes.h"

#include <string>

namespace gradients::common {
namespace {

std::string AsText(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

// The digest field's algorithm byte: DigestAlgorithm's number on the wire (BLAKE2B_256 = 1).
constexpr char kBlake2b256Tag = 1;

}  // namespace

Envelope AuthEnvelope(std::string_view validator_id, const PublicKey& miner, std::span<const uint8_t> nonce) {
  return Envelope{.domain = std::string(kAuthDomain),
                  .fields = {{"validator_id", std::string(validator_id)},
                             {"miner_key", AsText(miner.bytes)},
                             {"nonce", AsText(nonce)}}};
}

Envelope CheckpointEnvelope(std::string_view validator_id, std::string_view task_id, const PublicKey& miner,
                            std::span<const uint8_t> claim_nonce, const Digest& manifest_digest,
                            int64_t created_at_ms) {
  std::string digest(1, kBlake2b256Tag);
  digest += AsText(manifest_digest);
  std::string created(8, '\0');
  for (int i = 0; i < 8; ++i) {
    created[static_cast<size_t>(i)] = static_cast<char>((static_cast<uint64_t>(created_at_ms) >> (8 * i)) & 0xff);
  }
  return Envelope{.domain = std::string(kCheckpointDomain),
                  .fields = {{"validator_id", std::string(validator_id)},
                             {"task_id", std::string(task_id)},
                             {"miner_key", AsText(miner.bytes)},
                             {"nonce", AsText(claim_nonce)},
                             {"manifest_digest", std::move(digest)},
                             {"created_at_ms", std::move(created)}}};
}

}  // namespace gradients::common
