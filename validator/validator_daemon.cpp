#include "validator/validator_daemon.h"

#include <chrono>

#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "common/logging.h"
#include "validator/registry.h"
#include "validator/task_preparation.h"

namespace gradients {
namespace {

constexpr uint64_t kMaxPemBytes = 1 << 20;
constexpr auto kShutdownGrace = std::chrono::seconds(5);

std::string SourceName(const ContentSource& source) {
  return source.name.empty() ? DefaultContentName(source.path) : source.name;
}

Result<std::shared_ptr<grpc::ServerCredentials>> GatewayCredentials(const GatewayOptions& options) {
  if (options.tls_certificate_file.empty()) return grpc::InsecureServerCredentials();
  Result<std::string> certificate = ReadFileToString(options.tls_certificate_file, kMaxPemBytes);
  if (!certificate.ok()) return certificate.status().WithContext("gateway.tls_certificate_file");
  Result<std::string> key = ReadFileToString(options.tls_private_key_file, kMaxPemBytes);
  if (!key.ok()) return key.status().WithContext("gateway.tls_private_key_file");
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({.private_key = *key, .cert_chain = *certificate});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

Result<std::unique_ptr<ValidatorDaemon>> ValidatorDaemon::Start(const ValidatorOptions& options, ClockMs now_ms) {
  Result<DataDirectory> data = OpenDataDirectory(options.data_dir);
  if (!data.ok()) return data.status().WithContext("data_dir");
  const int64_t now = now_ms();
  for (const ContentSource& model : options.models) {
    Result<ModelRecord> record = RegisterModel(*data->store, *data->blobs, model.path, SourceName(model), now);
    if (!record.ok()) return record.status().WithContext("models");
    GetLogger("validator")->info("model {} ({}) registered", record->name, record->hash);
  }
  for (const ContentSource& dataset : options.datasets) {
    Result<DatasetRecord> record =
        RegisterDataset(*data->store, *data->blobs, dataset.path, SourceName(dataset), now);
    if (!record.ok()) return record.status().WithContext("datasets");
    GetLogger("validator")->info("dataset {} ({}) registered", record->name, record->hash);
  }
  std::unique_ptr<ValidatorDaemon> daemon(new ValidatorDaemon(std::move(*data), options.auth, std::move(now_ms)));
  GRADIENTS_RETURN_IF_ERROR(daemon->ResumeTasks(now));
  GRADIENTS_RETURN_IF_ERROR(daemon->StartGateway(options.gateway));
  const nlohmann::json ports = {{"gateway", daemon->gateway_port_}};
  GRADIENTS_RETURN_IF_ERROR(WriteFileDurably(daemon->data_.root / "ports.json", ports.dump() + "\n"));
  return daemon;
}

Status ValidatorDaemon::ResumeTasks(int64_t now_ms) {
  for (TaskStatus status : {TaskStatus::kPending, TaskStatus::kPreparing}) {
    Result<std::vector<TaskRecord>> tasks = data_.store->ListTasks(status);
    if (!tasks.ok()) return tasks.status();
    for (const TaskRecord& task : *tasks) {
      Status prepared = PrepareTask(*data_.store, *data_.blobs, task.id, now_ms);
      if (prepared.ok()) {
        GetLogger("validator")->info("task {}: {} -> offering", task.id, TaskStatusName(status));
        continue;
      }
      // A task that cannot be prepared fails (with the reason), not the validator.
      Result<TaskRecord> now = data_.store->GetTask(task.id);
      if (!now.ok() || now->status != TaskStatus::kFailed) return prepared.WithContext("task " + task.id);
      GetLogger("validator")->warn("task {}: failed: {}", task.id, prepared.message());
    }
  }
  return Status::Ok();
}

Status ValidatorDaemon::StartGateway(const GatewayOptions& options) {
  Result<std::shared_ptr<grpc::ServerCredentials>> credentials = GatewayCredentials(options);
  if (!credentials.ok()) return credentials.status();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, *credentials, &gateway_port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(options.keepalive_time_ms));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(options.keepalive_timeout_ms));
  builder.RegisterService(&gateway_service_);
  gateway_ = builder.BuildAndStart();
  if (gateway_ == nullptr || gateway_port_ == 0) {
    return Status::Unavailable("gateway.listen: cannot listen on " + options.listen);
  }
  GetLogger("validator")->info("serving miners on port {}", gateway_port_);
  return Status::Ok();
}

void ValidatorDaemon::Shutdown() {
  if (gateway_ == nullptr) return;
  gateway_->Shutdown(std::chrono::system_clock::now() + kShutdownGrace);
  gateway_->Wait();
  gateway_.reset();
  GetLogger("validator")->info("stopped");
}

ValidatorDaemon::~ValidatorDaemon() { Shutdown(); }

}  // namespace gradients
