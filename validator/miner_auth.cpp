#include "validator/miner_auth.h"

#include <algorithm>

#include "common/hex.h"

namespace gradients {
namespace {

std::string_view AsText(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

Envelope AuthEnvelope(std::string_view validator_id, const PublicKey& miner, std::span<const uint8_t> nonce) {
  return Envelope{.domain = std::string(kAuthDomain),
                  .fields = {{"validator_id", std::string(validator_id)},
                             {"miner_key", std::string(AsText(miner.bytes))},
                             {"nonce", std::string(AsText(nonce))}}};
}

void MinerAuthenticator::DropChallenge(std::map<std::string, OpenChallenge, std::less<>>::iterator challenge) {
  auto count = challenges_per_key_.find(AsText(challenge->second.miner.bytes));
  if (count != challenges_per_key_.end() && --count->second == 0) challenges_per_key_.erase(count);
  challenges_.erase(challenge);
}

void MinerAuthenticator::DropExpired(int64_t now_ms) {
  while (!challenge_expiry_.empty() && challenge_expiry_.begin()->first <= now_ms) {
    auto challenge = challenges_.find(challenge_expiry_.begin()->second);
    if (challenge != challenges_.end()) DropChallenge(challenge);  // absent: already spent
    challenge_expiry_.erase(challenge_expiry_.begin());
  }
  while (!session_expiry_.empty() && session_expiry_.begin()->first <= now_ms) {
    sessions_.erase(session_expiry_.begin()->second);
    session_expiry_.erase(session_expiry_.begin());
  }
}

Result<AuthChallenge> MinerAuthenticator::IssueChallenge(const PublicKey& miner, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  DropExpired(now_ms);
  const std::string key(AsText(miner.bytes));
  auto held = challenges_per_key_.find(key);
  if (held != challenges_per_key_.end() && held->second >= options_.max_challenges_per_key) {
    return Status::ResourceExhausted("key " + miner.ToHex() + " holds " + std::to_string(held->second) +
                                     " open challenges; answer one or wait for them to expire");
  }
  if (challenges_.size() >= options_.max_challenges) {
    return Status::ResourceExhausted("too many open challenges; retry shortly");
  }
  AuthChallenge challenge{.nonce = {}, .expires_at_ms = now_ms + options_.challenge_ttl_ms};
  FillRandom(challenge.nonce);
  const std::string nonce(AsText(challenge.nonce));
  challenges_[nonce] = OpenChallenge{.miner = miner, .expires_at_ms = challenge.expires_at_ms};
  ++challenges_per_key_[key];
  challenge_expiry_.emplace(challenge.expires_at_ms, nonce);
  return challenge;
}

Result<MinerSession> MinerAuthenticator::Authenticate(const SignedEnvelope& proof, int64_t now_ms) {
  const std::string* nonce = proof.body.Find("nonce");
  if (nonce == nullptr) return Status::Unauthenticated("the proof has no nonce");
  std::lock_guard lock(mutex_);
  DropExpired(now_ms);
  auto found = challenges_.find(*nonce);
  if (found == challenges_.end()) return Status::Unauthenticated("unknown, used or expired nonce");
  const OpenChallenge challenge = found->second;
  DropChallenge(found);  // spent, whatever follows
  if (proof.signer != challenge.miner) {
    return Status::Unauthenticated("the nonce was issued to another key");
  }
  // The fields must be exactly ours, in order: nothing the miner signed is taken on trust.
  const Envelope expected = AuthEnvelope(options_.validator_id, challenge.miner,
                                         std::span(reinterpret_cast<const uint8_t*>(nonce->data()), nonce->size()));
  if (proof.body.domain != kAuthDomain) return Status::Unauthenticated("the proof's domain is not gradients/auth/v1");
  if (proof.body.fields != expected.fields) {
    return Status::Unauthenticated("the proof's fields are not (validator_id, miner_key, nonce) of this challenge");
  }
  GRADIENTS_RETURN_IF_ERROR(VerifyEnvelope(proof, kAuthDomain, challenge.miner));
  if (sessions_.size() >= options_.max_sessions) return Status::ResourceExhausted("too many sessions; retry later");
  std::array<uint8_t, 32> token{};
  FillRandom(token);
  MinerSession session{.token = ToHex(token), .miner = challenge.miner,
                       .expires_at_ms = now_ms + options_.session_ttl_ms};
  sessions_[session.token] = session;
  session_expiry_.emplace(session.expires_at_ms, session.token);
  return session;
}

Result<PublicKey> MinerAuthenticator::SessionMiner(std::string_view token, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto found = sessions_.find(token);
  if (found == sessions_.end() || found->second.expires_at_ms <= now_ms) {
    return Status::Unauthenticated("unknown or expired session; authenticate again");
  }
  return found->second.miner;
}

}  // namespace gradients
