#include "validator/market/miner_auth.h"

#include <algorithm>

#include "common/hex.h"

namespace gradients::validator {
namespace {

std::string_view AsText(std::span<const uint8_t> bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

}  // namespace

void MinerAuthenticator::DropChallenge(Challenges::iterator challenge) {
  const std::string key(AsText(challenge->second.miner.bytes));
  auto nonces = key_nonces_.find(key);
  if (nonces != key_nonces_.end()) {
    std::erase(nonces->second, challenge->first);
    if (nonces->second.empty()) key_nonces_.erase(nonces);
  }
  auto peer = peer_challenges_.find(challenge->second.peer);
  if (peer != peer_challenges_.end() && --peer->second == 0) peer_challenges_.erase(peer);
  challenge_expiry_.erase(challenge->second.expiry);
  challenges_.erase(challenge);
}

void MinerAuthenticator::DropSession(Sessions::iterator session) {
  auto token = key_token_.find(AsText(session->second.session.miner.bytes));
  if (token != key_token_.end() && token->second == session->first) key_token_.erase(token);
  session_expiry_.erase(session->second.expiry);
  sessions_.erase(session);
}

void MinerAuthenticator::DropExpired(int64_t now_ms) {
  while (!challenge_expiry_.empty() && challenge_expiry_.begin()->first <= now_ms) {
    DropChallenge(challenges_.find(challenge_expiry_.begin()->second));
  }
  while (!session_expiry_.empty() && session_expiry_.begin()->first <= now_ms) {
    DropSession(sessions_.find(session_expiry_.begin()->second));
  }
}

common::Result<AuthChallenge> MinerAuthenticator::IssueChallenge(const common::PublicKey& miner, std::string_view peer,
                                                         int64_t now_ms) {
  std::lock_guard lock(mutex_);
  DropExpired(now_ms);
  auto held = peer_challenges_.find(peer);
  if (held != peer_challenges_.end() && held->second >= options_.max_challenges_per_peer) {
    return common::Status::ResourceExhausted("this address holds " + std::to_string(held->second) +
                                     " open challenges; answer one or wait for them to expire");
  }
  const std::string key(AsText(miner.bytes));
  auto nonces = key_nonces_.find(key);
  if (nonces != key_nonces_.end() && nonces->second.size() >= options_.max_challenges_per_key) {
    DropChallenge(challenges_.find(nonces->second.front()));  // the key's oldest makes room
  }
  if (challenges_.size() >= options_.max_challenges) {
    return common::Status::ResourceExhausted("too many open challenges; retry shortly");
  }
  AuthChallenge challenge{.nonce = {}, .expires_at_ms = now_ms + options_.challenge_ttl_ms};
  common::FillRandom(challenge.nonce);
  const std::string nonce(AsText(challenge.nonce));
  challenges_[nonce] = OpenChallenge{.miner = miner, .peer = std::string(peer),
                                     .expiry = challenge_expiry_.emplace(challenge.expires_at_ms, nonce)};
  key_nonces_[key].push_back(nonce);
  ++peer_challenges_[std::string(peer)];
  return challenge;
}

common::Result<MinerSession> MinerAuthenticator::Authenticate(const common::SignedEnvelope& proof, int64_t now_ms) {
  const std::string* nonce = proof.body.Find("nonce");
  if (nonce == nullptr) return common::Status::Unauthenticated("the proof has no nonce");
  std::lock_guard lock(mutex_);
  DropExpired(now_ms);
  auto found = challenges_.find(*nonce);
  if (found == challenges_.end()) return common::Status::Unauthenticated("unknown, used or expired nonce");
  const common::PublicKey miner = found->second.miner;
  DropChallenge(found);  // spent, whatever follows
  if (proof.signer != miner) return common::Status::Unauthenticated("the nonce was issued to another key");
  // The fields must be exactly ours, in order: nothing the miner signed is taken on trust.
  const common::Envelope expected = common::AuthEnvelope(options_.validator_id, miner,
                                         std::span(reinterpret_cast<const uint8_t*>(nonce->data()), nonce->size()));
  if (proof.body.domain != common::kAuthDomain) return common::Status::Unauthenticated("the proof's domain is not gradients/auth/v1");
  if (proof.body.fields != expected.fields) {
    return common::Status::Unauthenticated("the proof's fields are not (validator_id, miner_key, nonce) of this challenge");
  }
  GRADIENTS_RETURN_IF_ERROR(common::VerifyEnvelope(proof, common::kAuthDomain, miner));
  const std::string key(AsText(miner.bytes));
  if (auto previous = key_token_.find(key); previous != key_token_.end()) {
    DropSession(sessions_.find(previous->second));  // one session per key
  }
  if (sessions_.size() >= options_.max_sessions) return common::Status::ResourceExhausted("too many sessions; retry later");
  std::array<uint8_t, 32> token{};
  common::FillRandom(token);
  MinerSession session{.token = common::ToHex(token), .miner = miner, .expires_at_ms = now_ms + options_.session_ttl_ms};
  sessions_[session.token] = OpenSession{.session = session,
                                         .expiry = session_expiry_.emplace(session.expires_at_ms, session.token)};
  key_token_[key] = session.token;
  return session;
}

common::Result<common::PublicKey> MinerAuthenticator::SessionMiner(std::string_view token, int64_t now_ms) {
  std::lock_guard lock(mutex_);
  auto found = sessions_.find(token);
  if (found == sessions_.end() || found->second.session.expires_at_ms <= now_ms) {
    return common::Status::Unauthenticated("unknown or expired session; authenticate again");
  }
  return found->second.session.miner;
}

}  // namespace gradients::validator
