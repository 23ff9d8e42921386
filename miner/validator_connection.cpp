#include "miner/validator_connection.h"

#include <algorithm>

#include "common/durable_file.h"
#include "common/utf8.h"
#include "proto/auth_messages.h"
#include "proto/grpc_status.h"

namespace gradients::miner {

common::Result<std::unique_ptr<ValidatorConnection>> ValidatorConnection::Open(const ValidatorEndpoint& endpoint,
                                                                       const common::SigningKey& key,
                                                                       std::string client_version,
                                                                       const ReconnectOptions& reconnect) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!endpoint.tls_ca_file.empty()) {
    common::Result<std::string> roots = common::ReadFileToString(endpoint.tls_ca_file, 1 << 20);
    if (!roots.ok()) return roots.status().WithContext("tls_ca_file");
    if (roots->empty()) return common::Status::InvalidArgument("tls_ca_file: " + endpoint.tls_ca_file + " is empty");
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = *roots;
    credentials = grpc::SslCredentials(tls);
  }
  // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC takes it as the minimum connect timeout (each attempt
  // gets until the later of its backoff and that), and a handshake slower than the backoff would
  // never complete; gRPC's own 20 s stands.
  grpc::ChannelArguments arguments;
  arguments.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, static_cast<int>(reconnect.initial_backoff_ms));
  arguments.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, static_cast<int>(reconnect.max_backoff_ms));
  return std::unique_ptr<ValidatorConnection>(new ValidatorConnection(
      endpoint, grpc::CreateCustomChannel(endpoint.address, credentials, arguments), key, std::move(client_version)));
}

common::Status ValidatorConnection::Authenticate() {
  const auto context = [] {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return context;
  };
  v1::GetChallengeRequest request;
  const auto& public_key = key_.public_key().bytes;
  request.set_miner_public_key(std::string(public_key.begin(), public_key.end()));
  v1::GetChallengeResponse challenge;
  if (grpc::Status status = stub_->GetChallenge(context().get(), request, &challenge); !status.ok()) {
    return proto::FromGrpcStatus(status).WithContext(address_ + ": GetChallenge");
  }
  if (challenge.validator_id() != expected_validator_id_) {
    return common::Status::Unauthenticated(address_ + ": the challenge names validator \"" +
                                   common::ToValidUtf8(challenge.validator_id().substr(0, 64)) + "\", not \"" +
                                   expected_validator_id_ + "\"; nothing was signed");
  }
  common::Result<v1::AuthenticateRequest> answer = proto::AnswerChallenge(challenge, key_, client_version_);
  if (!answer.ok()) return answer.status();
  v1::AuthenticateResponse session;
  if (grpc::Status status = stub_->Authenticate(context().get(), *answer, &session); !status.ok()) {
    return proto::FromGrpcStatus(status).WithContext(address_ + ": Authenticate");
  }
  std::lock_guard lock(mutex_);
  token_ = session.session_token();
  validator_id_ = challenge.validator_id();
  return common::Status::Ok();
}

std::string ValidatorConnection::Token() const {
  std::lock_guard lock(mutex_);
  return token_;
}

std::string ValidatorConnection::validator_id() const {
  std::lock_guard lock(mutex_);
  return validator_id_;
}

std::unique_ptr<grpc::ClientContext> ValidatorConnection::ContextWith(const std::string& token,
                                                                      std::chrono::milliseconds timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  context->AddMetadata("gradients-session", token);
  return context;
}

common::Status ValidatorConnection::EnsureSession() {
  if (!Token().empty()) return common::Status::Ok();
  return Renew("");
}

common::Status ValidatorConnection::Renew(const std::string& failed_token) {
  std::lock_guard renewing(renewing_);
  if (Token() != failed_token) return common::Status::Ok();  // another caller renewed it meanwhile
  return Authenticate();
}

grpc::Status ValidatorConnection::Call(const std::function<grpc::Status(grpc::ClientContext&)>& call,
                                       std::chrono::milliseconds timeout) {
  if (common::Status status = EnsureSession(); !status.ok()) return proto::ToGrpcStatus(status);
  const std::string token = Token();
  grpc::Status status = call(*ContextWith(token, timeout));
  if (status.error_code() != grpc::StatusCode::UNAUTHENTICATED) return status;
  if (common::Status renewed = Renew(token); !renewed.ok()) return proto::ToGrpcStatus(renewed);
  return call(*SessionContext(timeout));
}

ReconnectBackoff::ReconnectBackoff(const ReconnectOptions& options, uint64_t seed)
    : options_(options), ceiling_ms_(options.initial_backoff_ms), random_(seed) {}

std::chrono::milliseconds ReconnectBackoff::NextDelay() {
  const int64_t ceiling = ceiling_ms_;
  ceiling_ms_ = std::min(2 * ceiling_ms_, options_.max_backoff_ms);
  std::uniform_int_distribution<int64_t> draw(ceiling / 2, ceiling);
  return std::chrono::milliseconds(draw(random_));
}

void ReconnectBackoff::Reset() { ceiling_ms_ = options_.initial_backoff_ms; }

}  // namespace gradients::miner
