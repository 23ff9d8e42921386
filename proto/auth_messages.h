// A miner's answer to the validator's challenge (MinerGateway.Authenticate): the challenge's
// nonce signed in an auth envelope (common/protocol_envelopes.h) with the miner's key. The miner
// daemon sends it; the tests' scripted miners and the validator bench send it too.
#pragma once

#include <string_view>

#include "common/keys.h"
#include "common/status.h"
#include "gradients/v1/miner_gateway.pb.h"

namespace gradients::proto {

common::Result<v1::AuthenticateRequest> AnswerChallenge(const v1::GetChallengeResponse& challenge, const common::SigningKey& key,
                                                std::string_view client_version);

}  // namespace gradients::proto
