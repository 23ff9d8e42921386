// The MinerGateway gRPC service (proto/gradients/v1/miner_gateway.proto): thin handlers that check
// each request's shape, delegate to the validator's services and return precise status codes.
// Served so far: GetChallenge, Authenticate and RespondToOffer; the other calls answer
// UNIMPLEMENTED until their services exist (issue 5). Every call but the first two needs a session:
// the token from Authenticate in the metadata "gradients-session".
#pragma once

#include <cstdint>

#include "common/clock.h"
#include "gradients/v1/miner_gateway.grpc.pb.h"
#include "validator/miner_auth.h"
#include "validator/store.h"

namespace gradients {

class MinerGatewayService final : public v1::MinerGateway::Service {
 public:
  MinerGatewayService(MinerAuthenticator& auth, Store& store, ClockMs now_ms)
      : auth_(auth), store_(store), now_ms_(std::move(now_ms)) {}

  grpc::Status GetChallenge(grpc::ServerContext* context, const v1::GetChallengeRequest* request,
                            v1::GetChallengeResponse* response) override;
  grpc::Status Authenticate(grpc::ServerContext* context, const v1::AuthenticateRequest* request,
                            v1::AuthenticateResponse* response) override;
  grpc::Status RespondToOffer(grpc::ServerContext* context, const v1::RespondToOfferRequest* request,
                              v1::RespondToOfferResponse* response) override;

 private:
  // The miner whose session token the call carries; Unauthenticated without a valid one.
  Result<PublicKey> SessionMiner(const grpc::ServerContext& context);

  MinerAuthenticator& auth_;
  Store& store_;
  ClockMs now_ms_;
};

}  // namespace gradients
