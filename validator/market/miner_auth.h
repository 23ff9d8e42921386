// Miner authentication (proto/gradients/v1/miner_gateway.proto, header): challenge-response with
// the miner's ed25519 identity key. A challenge is 32 random bytes issued to one key, valid for a
// short time and usable once; the miner signs a "gradients/auth/v1" envelope over (validator id,
// its key, the nonce) and gets a session token that later calls carry. Sessions live in memory: a
// restarted validator asks miners to authenticate again. Thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "common/envelope.h"
#include "common/keys.h"
#include "common/protocol_envelopes.h"
#include "common/status.h"

namespace gradients::validator {

struct MinerAuthOptions {
  std::string validator_id = "gradients-validator";  // what miners put into their envelopes
  int64_t challenge_ttl_ms = 60'000;
  int64_t session_ttl_ms = 24 * 3'600'000;
  // Open (issued, unused, unexpired) challenges per key: a new one beyond this replaces the key's
  // oldest, so whoever asks in a key's name cannot lock its owner out.
  size_t max_challenges_per_key = 4;
  // Per peer address (beyond it the peer is refused, others are not) and in all: no one fills
  // the validator's memory with challenges.
  size_t max_challenges_per_peer = 64;
  size_t max_challenges = 100'000;
  // One session per key (authenticating again replaces it); this many keys at once.
  size_t max_sessions = 100'000;
};

struct AuthChallenge {
  std::array<uint8_t, common::kNonceBytes> nonce{};
  int64_t expires_at_ms = 0;
};

struct MinerSession {
  std::string token;  // 64 lower-case hex digits
  common::PublicKey miner;
  int64_t expires_at_ms = 0;
};

class MinerAuthenticator {
 public:
  explicit MinerAuthenticator(MinerAuthOptions options) : options_(std::move(options)) {}

  const std::string& validator_id() const { return options_.validator_id; }

  // `peer` is the caller's address without its port. ResourceExhausted when the peer, or the
  // validator, holds too many open challenges.
  common::Result<AuthChallenge> IssueChallenge(const common::PublicKey& miner, std::string_view peer, int64_t now_ms);
  // Unauthenticated for a wrong domain, fields, signer or signature, or a nonce that was never
  // issued to this key, has expired or was presented before (a nonce is spent by the first
  // attempt that names it, whatever its outcome).
  common::Result<MinerSession> Authenticate(const common::SignedEnvelope& proof, int64_t now_ms);
  // The session's miner; Unauthenticated when the token is unknown, expired or replaced by a newer
  // session of the same key.
  common::Result<common::PublicKey> SessionMiner(std::string_view token, int64_t now_ms);

 private:
  using Expiry = std::multimap<int64_t, std::string>;  // expiry time -> nonce or token
  struct OpenChallenge {
    common::PublicKey miner;
    std::string peer;
    Expiry::iterator expiry;
  };
  struct OpenSession {
    MinerSession session;
    Expiry::iterator expiry;
  };
  using Challenges = std::map<std::string, OpenChallenge, std::less<>>;
  using Sessions = std::map<std::string, OpenSession, std::less<>>;
  void DropExpired(int64_t now_ms);
  void DropChallenge(Challenges::iterator challenge);
  void DropSession(Sessions::iterator session);

  const MinerAuthOptions options_;
  std::mutex mutex_;
  Challenges challenges_;                                                 // by nonce bytes
  std::map<std::string, std::deque<std::string>, std::less<>> key_nonces_;  // key bytes -> nonces, oldest first
  std::map<std::string, size_t, std::less<>> peer_challenges_;            // peer -> open challenges
  Sessions sessions_;                                                     // by token
  std::map<std::string, std::string, std::less<>> key_token_;             // key bytes -> its session's token
  // What expires when: expired entries are dropped without scanning the live ones.
  Expiry challenge_expiry_, session_expiry_;
};

}  // namespace gradients::validator
