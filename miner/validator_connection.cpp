#include "miner/validator_connection.h"

#include <algorithm>

#include "common/durable_file.h"
#include "proto/auth_messages.h"
#include "proto/grpc_status.h"

namespace gradients {

Result<std::unique_ptr<ValidatorConnection>> ValidatorConnection::Open(const ValidatorEndpoint& endpoint,
                                                                       const SigningKey& key,
                                                                       std::string client_version) {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (!endpoint.tls_ca_file.empty()) {
    Result<std::string> roots = ReadFileToString(endpoint.tls_ca_file, 1 << 20);
    if (!roots.ok()) return roots.status().WithContext("tls_ca_file");
    grpc::SslCredentialsOptions tls;
    tls.pem_root_certs = *roots;
    credentials = grpc::SslCredentials(tls);
  }
  return std::unique_ptr<ValidatorConnection>(new ValidatorConnection(
      endpoint.address, grpc::CreateChannel(endpoint.address, credentials), key, std::move(client_version)));
}

Status ValidatorConnection::Authenticate() {
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
    return FromGrpcStatus(status).WithContext(address_ + ": GetChallenge");
  }
  Result<v1::AuthenticateRequest> answer = AnswerChallenge(challenge, key_, client_version_);
  if (!answer.ok()) return answer.status();
  v1::AuthenticateResponse session;
  if (grpc::Status status = stub_->Authenticate(context().get(), *answer, &session); !status.ok()) {
    return FromGrpcStatus(status).WithContext(address_ + ": Authenticate");
  }
  std::lock_guard lock(mutex_);
  token_ = session.session_token();
  validator_id_ = challenge.validator_id();
  return Status::Ok();
}

std::string ValidatorConnection::Token() const {
  std::lock_guard lock(mutex_);
  return token_;
}

std::string ValidatorConnection::validator_id() const {
  std::lock_guard lock(mutex_);
  return validator_id_;
}

std::unique_ptr<grpc::ClientContext> ValidatorConnection::SessionContext(std::chrono::milliseconds timeout) const {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  context->AddMetadata("gradients-session", Token());
  return context;
}

grpc::Status ValidatorConnection::Call(const std::function<grpc::Status(grpc::ClientContext&)>& call,
                                       std::chrono::milliseconds timeout) {
  const auto authenticate = [&]() -> grpc::Status {
    Status status = Authenticate();
    return status.ok() ? grpc::Status::OK : ToGrpcStatus(status);
  };
  if (Token().empty()) {
    if (grpc::Status status = authenticate(); !status.ok()) return status;
  }
  grpc::Status status = call(*SessionContext(timeout));
  if (status.error_code() != grpc::StatusCode::UNAUTHENTICATED) return status;
  if (grpc::Status renewed = authenticate(); !renewed.ok()) return renewed;
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

}  // namespace gradients
