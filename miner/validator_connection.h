// One validator as the miner sees it (DESIGN.md, Protocol): a channel to its MinerGateway and a
// session won by answering its challenge with the miner's key. The session is renewed when the
// validator no longer knows it (UNAUTHENTICATED: it restarted, or the session expired).
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <random>
#include <string>

#include "common/keys.h"
#include "common/status.h"
#include "gradients/v1/miner_gateway.grpc.pb.h"
#include "miner/miner_options.h"

namespace gradients::miner {

class ValidatorConnection {
 public:
  // Reads the endpoint's TLS roots when it names them; connects lazily (gRPC channels do).
  // gRPC's own reconnection waits follow `reconnect` (its defaults reach two minutes).
  static common::Result<std::unique_ptr<ValidatorConnection>> Open(const ValidatorEndpoint& endpoint, const common::SigningKey& key,
                                                           std::string client_version,
                                                           const ReconnectOptions& reconnect = {});

  // GetChallenge, then Authenticate with the signed answer: a new session. Unauthenticated when the
  // challenge names another validator than the endpoint's validator_id (nothing is signed then).
  common::Status Authenticate();
  // A session: the current one, or a new one when there is none.
  common::Status EnsureSession();
  // A new session in place of `failed_token` (refused as UNAUTHENTICATED), unless another thread
  // renewed it already: the validator keeps one session per key, so renewals must not race.
  common::Status Renew(const std::string& failed_token);
  // Runs `call` with a context that carries the session and a deadline `timeout` from now,
  // authenticating first when there is no session and once more when the validator answers
  // UNAUTHENTICATED. The call's own failures come back as they are.
  grpc::Status Call(const std::function<grpc::Status(grpc::ClientContext&)>& call,
                    std::chrono::milliseconds timeout = std::chrono::seconds(30));
  // A context with the current session (for streams the caller manages itself).
  std::unique_ptr<grpc::ClientContext> SessionContext(std::chrono::milliseconds timeout) const {
    return ContextWith(Token(), timeout);
  }
  // A context with `token` as the session.
  static std::unique_ptr<grpc::ClientContext> ContextWith(const std::string& token, std::chrono::milliseconds timeout);
  std::string Token() const;

  v1::MinerGateway::Stub& stub() { return *stub_; }
  const common::SigningKey& key() const { return key_; }  // the miner's identity, for the envelopes it signs
  const std::string& address() const { return address_; }
  // What the validator calls itself (from its challenge); empty before the first session.
  std::string validator_id() const;

 private:
  ValidatorConnection(const ValidatorEndpoint& endpoint, std::shared_ptr<grpc::Channel> channel, const common::SigningKey& key,
                      std::string client_version)
      : address_(endpoint.address),
        expected_validator_id_(endpoint.validator_id),
        stub_(v1::MinerGateway::NewStub(channel)),
        key_(key),
        client_version_(std::move(client_version)) {}

  const std::string address_;
  const std::string expected_validator_id_;
  std::unique_ptr<v1::MinerGateway::Stub> stub_;
  const common::SigningKey key_;
  const std::string client_version_;
  std::mutex renewing_;       // one new session at a time
  mutable std::mutex mutex_;  // guards the session below
  std::string token_, validator_id_;
};

// Waits before each new attempt to reach a validator: from the initial wait, doubled after each
// failure up to the longest, each drawn between half and all of it so that miners cut off
// together do not all come back at once.
class ReconnectBackoff {
 public:
  explicit ReconnectBackoff(const ReconnectOptions& options, uint64_t seed = std::random_device{}());
  std::chrono::milliseconds NextDelay();
  void Reset();  // after a success

 private:
  const ReconnectOptions options_;
  int64_t ceiling_ms_;
  std::mt19937_64 random_;
};

}  // namespace gradients::miner
