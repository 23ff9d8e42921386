#include "proto/auth_messages.h"

#include <span>
#include <string>

#include "common/protocol_envelopes.h"
#include "proto/checkpoint_messages.h"

namespace gradients::proto {

common::Result<v1::AuthenticateRequest> AnswerChallenge(const v1::GetChallengeResponse& challenge, const common::SigningKey& key,
                                                std::string_view client_version) {
  const std::string& nonce = challenge.nonce();
  common::Result<common::SignedEnvelope> proof =
      common::SignEnvelope(common::AuthEnvelope(challenge.validator_id(), key.public_key(),
                                std::span(reinterpret_cast<const uint8_t*>(nonce.data()), nonce.size())),
                   key);
  if (!proof.ok()) return proof.status();
  v1::AuthenticateRequest request;
  GRADIENTS_RETURN_IF_ERROR(ToProto(*proof, request.mutable_proof()));
  request.set_client_version(std::string(client_version));
  return request;
}

}  // namespace gradients::proto
