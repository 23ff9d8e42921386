#include "validator/miner_gateway_service.h"

#include "common/hex.h"
#include "common/logging.h"
#include "common/utf8.h"
#include "proto/grpc_status.h"
#include "proto/timestamps.h"
#include "validator/task_spec.h"

namespace gradients {
namespace {

constexpr size_t kMaxEnvelopeBytes = 4096;
constexpr size_t kMaxTaskIdBytes = 64;
constexpr size_t kMaxDeclineDetailBytes = 256;
constexpr size_t kMaxClientVersionBytes = 64;

std::span<const uint8_t> Bytes(const std::string& bytes) {
  return {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
}

// The wire form of a signed envelope, checked for size and decoded strictly.
Result<SignedEnvelope> ParseSignedEnvelope(const v1::SignedEnvelope& wire) {
  if (wire.encoded().size() > kMaxEnvelopeBytes) {
    return Status::InvalidArgument("envelope of " + std::to_string(wire.encoded().size()) +
                                   " bytes exceeds the limit of " + std::to_string(kMaxEnvelopeBytes));
  }
  Result<Envelope> body = DecodeEnvelopeBody(Bytes(wire.encoded()));
  if (!body.ok()) return body.status().WithContext("envelope");
  Result<PublicKey> signer = PublicKey::FromBytes(Bytes(wire.signer_public_key()));
  if (!signer.ok()) return signer.status().WithContext("signer_public_key");
  if (wire.signature().size() != kSignatureBytes) {
    return Status::InvalidArgument("signature: expected " + std::to_string(kSignatureBytes) + " bytes, got " +
                                   std::to_string(wire.signature().size()));
  }
  SignedEnvelope envelope{.body = std::move(*body), .signer = *signer, .signature = {}};
  std::copy(wire.signature().begin(), wire.signature().end(), envelope.signature.begin());
  return envelope;
}

// gRPC's peer string without the port ("ipv4:10.0.0.7:51234" -> "ipv4:10.0.0.7"): one address
// may open many connections.
std::string PeerHost(const std::string& peer) {
  const size_t colon = peer.rfind(':');
  return colon == std::string::npos || colon < peer.find(':') + 1 ? peer : peer.substr(0, colon);
}

}  // namespace

grpc::Status MinerGatewayService::GetChallenge(grpc::ServerContext* context, const v1::GetChallengeRequest* request,
                                               v1::GetChallengeResponse* response) {
  Result<PublicKey> miner = PublicKey::FromBytes(Bytes(request->miner_public_key()));
  if (!miner.ok()) return ToGrpcStatus(miner.status().WithContext("miner_public_key"));
  Result<AuthChallenge> challenge = auth_.IssueChallenge(*miner, PeerHost(context->peer()), now_ms_());
  if (!challenge.ok()) return ToGrpcStatus(challenge.status());
  response->set_nonce(challenge->nonce.data(), challenge->nonce.size());
  SetTimestampMs(challenge->expires_at_ms, response->mutable_expires_at());
  response->set_validator_id(auth_.validator_id());
  return grpc::Status::OK;
}

grpc::Status MinerGatewayService::Authenticate(grpc::ServerContext*, const v1::AuthenticateRequest* request,
                                               v1::AuthenticateResponse* response) {
  if (request->client_version().size() > kMaxClientVersionBytes) {
    return ToGrpcStatus(Status::InvalidArgument("client_version exceeds " + std::to_string(kMaxClientVersionBytes) +
                                                " bytes"));
  }
  Result<SignedEnvelope> proof = ParseSignedEnvelope(request->proof());
  if (!proof.ok()) return ToGrpcStatus(proof.status().WithContext("proof"));
  Result<MinerSession> session = auth_.Authenticate(*proof, now_ms_());
  if (!session.ok()) return ToGrpcStatus(session.status());
  response->set_session_token(session->token);
  SetTimestampMs(session->expires_at_ms, response->mutable_expires_at());
  // The version is the miner's text: escaped and bounded before it reaches a log line.
  GetLogger("gateway")->info("miner {} authenticated ({})", session->miner.ToHex(),
                             ToValidUtf8(request->client_version()));
  return grpc::Status::OK;
}

Result<PublicKey> MinerGatewayService::SessionMiner(const grpc::ServerContext& context) {
  const auto& metadata = context.client_metadata();
  auto found = metadata.find("gradients-session");
  if (found == metadata.end()) return Status::Unauthenticated("no session: authenticate first");
  return auth_.SessionMiner(std::string_view(found->second.data(), found->second.size()), now_ms_());
}

grpc::Status MinerGatewayService::RespondToOffer(grpc::ServerContext* context, const v1::RespondToOfferRequest* request,
                                                 v1::RespondToOfferResponse* response) {
  Result<PublicKey> miner = SessionMiner(*context);
  if (!miner.ok()) return ToGrpcStatus(miner.status());
  if (request->task_id().empty() || request->task_id().size() > kMaxTaskIdBytes) {
    return ToGrpcStatus(Status::InvalidArgument("task_id: 1 to " + std::to_string(kMaxTaskIdBytes) + " bytes"));
  }
  if (request->detail().size() > kMaxDeclineDetailBytes) {
    return ToGrpcStatus(Status::InvalidArgument("detail: at most " + std::to_string(kMaxDeclineDetailBytes) + " bytes"));
  }
  const int64_t now = now_ms_();
  if (request->decision() == v1::OFFER_DECISION_DECLINE) {
    if (request->decline_reason() == v1::DECLINE_REASON_UNSPECIFIED) {
      return ToGrpcStatus(Status::InvalidArgument("decline_reason: required with DECLINE"));
    }
    return ToGrpcStatus(store_.RecordDecline(request->task_id(), miner->ToHex(),
                                             v1::DeclineReason_Name(request->decline_reason()),
                                             ToValidUtf8(request->detail()), now));
  }
  if (request->decision() != v1::OFFER_DECISION_ACCEPT) return ToGrpcStatus(Status::InvalidArgument("decision: required"));
  if (request->decline_reason() != v1::DECLINE_REASON_UNSPECIFIED) {
    return ToGrpcStatus(Status::InvalidArgument("decline_reason: must be unset with ACCEPT"));
  }
  std::array<uint8_t, kNonceBytes> nonce{};
  FillRandom(nonce);
  Result<ClaimRecord> claim = store_.ClaimTask(request->task_id(), miner->ToHex(), ToHex(nonce), now);
  if (!claim.ok()) return ToGrpcStatus(claim.status());
  Result<TaskRecord> task = store_.GetTask(claim->task_id);
  if (!task.ok()) return ToGrpcStatus(task.status());
  Result<std::vector<uint8_t>> claim_nonce = FromHex(claim->nonce);
  if (!claim_nonce.ok()) return ToGrpcStatus(Status::DataLoss("stored claim nonce: " + claim_nonce.status().message()));
  v1::Claim* out = response->mutable_claim();
  out->set_task_id(claim->task_id);
  out->set_claim_nonce(claim_nonce->data(), claim_nonce->size());
  SetTimestampMs(task->deadline_ms, out->mutable_deadline());
  Result<ModelRecord> model = store_.GetModel(task->model_hash);
  if (!model.ok()) return ToGrpcStatus(model.status());
  Result<DatasetRecord> dataset = store_.GetDataset(task->dataset_hash);
  if (!dataset.ok()) return ToGrpcStatus(dataset.status());
  if (Status status = FillTaskSpec(*task, *model, *dataset, out->mutable_task()); !status.ok()) {
    return ToGrpcStatus(status);
  }
  GetLogger("gateway")->info("miner {} claimed task {}", miner->ToHex(), claim->task_id);
  return grpc::Status::OK;
}

}  // namespace gradients
