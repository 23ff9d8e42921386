#include "validator/validator_daemon.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "common/logging.h"
#include "validator/market/offer_rounds.h"
#include "validator/state/registry.h"
#include "validator/tasks/task_evaluation.h"
#include "validator/tasks/task_preparation.h"

namespace gradients::validator {
namespace {

constexpr uint64_t kMaxPemBytes = 1 << 20;
constexpr auto kShutdownGrace = std::chrono::seconds(5);
constexpr auto kPreparerInterval = std::chrono::seconds(5);
constexpr auto kOfferInterval = std::chrono::seconds(1);
constexpr auto kEvaluationInterval = std::chrono::seconds(2);
constexpr int64_t kFirstWeightsAfterMs = 10'000;

// The admin token: the file's content without surrounding whitespace, from a file only its owner
// may access.
common::Result<std::string> ReadAdminToken(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) return common::ErrnoStatus("admin.token_file: " + path, errno);
  if ((info.st_mode & 077) != 0) {
    return common::Status::PermissionDenied("admin.token_file: " + path + " is open to group or others (chmod 600 " + path + ")");
  }
  common::Result<std::string> text = common::ReadFileToString(path, 4096);
  if (!text.ok()) return text.status().WithContext("admin.token_file");
  const size_t begin = text->find_first_not_of(" \t\r\n"), end = text->find_last_not_of(" \t\r\n");
  if (begin == std::string::npos || end + 1 - begin < 16) {
    return common::Status::InvalidArgument("admin.token_file: " + path + ": the token must be at least 16 characters");
  }
  const std::string token = text->substr(begin, end + 1 - begin);
  // It travels as a gRPC metadata value, which takes printable ASCII only.
  for (char c : token) {
    if (c < 0x21 || c > 0x7e) {
      return common::Status::InvalidArgument("admin.token_file: " + path +
                                     ": the token must be printable ASCII without spaces or line breaks");
    }
  }
  return token;
}

common::Result<std::shared_ptr<grpc::ServerCredentials>> GatewayCredentials(const GatewayOptions& options) {
  if (options.tls_certificate_file.empty()) return grpc::InsecureServerCredentials();
  common::Result<std::string> certificate = common::ReadFileToString(options.tls_certificate_file, kMaxPemBytes);
  if (!certificate.ok()) return certificate.status().WithContext("gateway.tls_certificate_file");
  common::Result<std::string> key = common::ReadFileToString(options.tls_private_key_file, kMaxPemBytes);
  if (!key.ok()) return key.status().WithContext("gateway.tls_private_key_file");
  grpc::SslServerCredentialsOptions ssl;
  ssl.pem_key_cert_pairs.push_back({.private_key = *key, .cert_chain = *certificate});
  return grpc::SslServerCredentials(ssl);
}

}  // namespace

common::Result<std::unique_ptr<ValidatorDaemon>> ValidatorDaemon::Start(const ValidatorOptions& options, common::ClockMs now_ms) {
  common::Result<DataDirectory> data = OpenDataDirectory(options.data_dir);
  if (!data.ok()) return data.status().WithContext("data_dir");
  const int64_t now = now_ms();
  Store& store = *data->store;
  for (const ContentSource& model : options.models) {
    common::Result<ModelRecord> record = RegisterModel(store, *data->blobs, model.path, model.name, now);
    if (!record.ok()) return record.status().WithContext("models");
    common::GetLogger("validator")->info("model {} ({}) registered", record->name, record->hash);
  }
  for (const ContentSource& dataset : options.datasets) {
    common::Result<DatasetRecord> record = RegisterDataset(store, *data->blobs, dataset.path, dataset.name, now);
    if (!record.ok()) return record.status().WithContext("datasets");
    common::GetLogger("validator")->info("dataset {} ({}) registered", record->name, record->hash);
  }
  AdminServiceOptions admin{.validator_id = options.auth.validator_id, .version = GRADIENTS_VERSION, .token = {}};
  admin.leaderboard_window_ms = LongestWindowMs(options.scoring);
  admin.task_limits = options.tasks;
  if (!IsLoopback(options.admin.listen)) {
    common::Result<std::string> token = ReadAdminToken(options.admin.token_file);
    if (!token.ok()) return token.status();
    admin.token = std::move(*token);
  }
  common::Result<std::unique_ptr<CheckpointUploads>> uploads =
      CheckpointUploads::Open(store, store, store, store, *data->blobs, data->root / "uploads",
                              options.auth.validator_id, options.uploads, now_ms);
  if (!uploads.ok()) return uploads.status().WithContext("data_dir");
  std::unique_ptr<ValidatorDaemon> daemon(
      new ValidatorDaemon(std::move(*data), std::move(*uploads), options, std::move(admin), now_ms));
  daemon->evaluation_options_.work_dir = daemon->data_.root / "eval";
  daemon->evaluation_options_.on_evaluated = [raw = daemon.get()](EvaluationOutcome outcome, double seconds) {
    raw->metrics_.Add("gradients_evaluations_run_total", "Submissions evaluated in a child process, by outcome", 1,
                      "outcome=\"" + std::string(EvaluationOutcomeName(outcome)) + "\"");
    raw->metrics_.Add("gradients_evaluation_seconds_sum", "Seconds spent evaluating submissions", seconds);
    raw->metrics_.Add("gradients_evaluation_seconds_count", "Submissions whose evaluation time is summed", 1);
  };
  if (access(options.evaluation.gradients_path.c_str(), X_OK) != 0) {
    common::GetLogger("validator")->warn("evaluation.gradients_path: \"{}\" is not a program; tasks wait in evaluating until "
                                 "it is set",
                                 options.evaluation.gradients_path);
  }
  GRADIENTS_RETURN_IF_ERROR(daemon->PrepareTasks(now));
  daemon->RegisterMetrics();
  grpc::EnableDefaultHealthCheckService(true);  // grpc.health.v1.Health on both servers
  GRADIENTS_RETURN_IF_ERROR(daemon->StartGateway(options.gateway));
  GRADIENTS_RETURN_IF_ERROR(daemon->StartAdmin(options.admin));
  if (!options.metrics.listen.empty()) {
    common::Result<std::unique_ptr<MetricsServer>> metrics = MetricsServer::Start(
        options.metrics.listen, daemon->metrics_,
        [store = daemon->data_.store.get()] { return store->CountTasksByStatus().ok(); });
    if (!metrics.ok()) return metrics.status();
    daemon->metrics_server_ = std::move(*metrics);
    common::GetLogger("validator")->info("serving /metrics and /healthz on port {}", daemon->metrics_server_->port());
  }
  nlohmann::json ports = {{"gateway", daemon->gateway_port_}, {"admin", daemon->admin_port_}};
  if (daemon->metrics_server_) ports["metrics"] = daemon->metrics_server_->port();
  GRADIENTS_RETURN_IF_ERROR(common::WriteFileDurably(daemon->data_.root / "ports.json", ports.dump() + "\n"));
  daemon->task_loop_ = std::thread([raw = daemon.get()] { raw->RunTaskLoop(); });
  daemon->evaluator_ = std::thread([raw = daemon.get()] { raw->RunEvaluations(); });
  daemon->publisher_ = std::thread([raw = daemon.get()] { raw->RunWeightPublication(); });
  if (options.retention.sweep_interval_ms > 0) {
    daemon->blob_remover_ = std::thread([raw = daemon.get()] { raw->RunBlobRemoval(); });
  }
  return daemon;
}

AdminServiceOptions ValidatorDaemon::WithWakeUp(AdminServiceOptions admin) {
  admin.connected_miners = [this] { return offers_.connected(); };
  admin.is_connected = [this](const std::string& miner) { return offers_.IsConnected(miner); };
  admin.task_created = [this] {
    std::lock_guard lock(loop_mutex_);
    task_created_ = true;
    loop_wake_.notify_all();  // the evaluator waits on it too
  };
  return admin;
}

void ValidatorDaemon::RunTaskLoop() {
  std::unique_lock lock(loop_mutex_);
  auto next_preparation = std::chrono::steady_clock::now();
  while (!stopping_) {
    loop_wake_.wait_for(lock, kOfferInterval, [this] { return stopping_ || task_created_; });
    if (stopping_) break;
    const bool prepare = task_created_ || std::chrono::steady_clock::now() >= next_preparation;
    task_created_ = false;
    lock.unlock();
    // Errors are the disk's or the database's, not a task's: logged, and tried again next round.
    if (prepare) {
      next_preparation = std::chrono::steady_clock::now() + kPreparerInterval;
      common::Result<int64_t> scheduled = scheduler_.FillPool(*data_.store, *data_.store, *data_.blobs, now_ms_());
      if (!scheduled.ok()) {
        common::GetLogger("validator")->error("scheduling tasks: {}", scheduled.status().message());
      }
      if (common::Status status = PrepareTasks(now_ms_()); !status.ok()) {
        common::GetLogger("validator")->error("preparing tasks: {}", status.message());
      }
    }
    if (common::Status status = AdvanceOffers(now_ms_()); !status.ok()) {
      common::GetLogger("validator")->error("advancing offers: {}", status.message());
    }
    lock.lock();
  }
}

void ValidatorDaemon::RegisterMetrics() {
  Store& store = *data_.store;
  const auto labelled = [](const char* label, const std::map<std::string, int64_t>& counts) {
    std::map<std::string, double> values;
    for (const auto& [value, count] : counts) values[std::string(label) + "=\"" + value + "\""] = static_cast<double>(count);
    return values;
  };
  metrics_.Gauge("gradients_tasks", "Tasks by status", [&store, labelled] {
    common::Result<std::map<std::string, int64_t>> counts = store.CountTasksByStatus();
    return counts.ok() ? labelled("status", *counts) : std::map<std::string, double>{};
  });
  metrics_.CounterFrom("gradients_evaluations_total", "Verdicts stored, by outcome", [&store, labelled] {
    common::Result<std::map<EvaluationOutcome, int64_t>> counts = store.CountEvaluationsByOutcome();
    if (!counts.ok()) return std::map<std::string, double>{};
    std::map<std::string, int64_t> by_name;
    for (const auto& [outcome, count] : *counts) by_name[std::string(EvaluationOutcomeName(outcome))] = count;
    return labelled("outcome", by_name);
  });
  metrics_.Gauge("gradients_miners_connected", "Miners with an open offer stream", [this] {
    return std::map<std::string, double>{{"", static_cast<double>(offers_.connected())}};
  });
  metrics_.CounterFrom("gradients_offers_sent_total", "Offers sent to miners", [this] {
    return std::map<std::string, double>{{"", static_cast<double>(offers_.offers_sent())}};
  });
  metrics_.CounterFrom("gradients_upload_bytes_total", "Checkpoint bytes received", [this] {
    return std::map<std::string, double>{{"", static_cast<double>(uploads_->bytes_received())}};
  });
  metrics_.CounterFrom("gradients_uploads_verified_total", "Checkpoints verified and stored", [this] {
    return std::map<std::string, double>{{"", static_cast<double>(uploads_->uploads_verified())}};
  });
  metrics_.CounterFrom("gradients_blobs_removed_total", "Blobs removed because no record needs them", [this] {
    return std::map<std::string, double>{{"", static_cast<double>(blobs_removed_.load())}};
  });
  metrics_.CounterFrom("gradients_blob_bytes_removed_total", "Bytes of the blobs removed", [this] {
    return std::map<std::string, double>{{"", static_cast<double>(blob_bytes_removed_.load())}};
  });
}

bool ValidatorDaemon::WaitUnlessStopping(std::chrono::milliseconds interval) {
  std::unique_lock lock(loop_mutex_);
  return loop_wake_.wait_for(lock, interval, [this] { return stop_evaluating_.load(); });
}

void ValidatorDaemon::RunBlobRemoval() {
  while (!WaitUnlessStopping(std::chrono::milliseconds(retention_options_.sweep_interval_ms))) {
    common::Result<BlobSweep> sweep = RemoveUnneededBlobs(*data_.store, *data_.blobs, retention_options_, now_ms_());
    if (!sweep.ok()) {
      common::GetLogger("blobs")->error("removing unneeded blobs: {}", sweep.status().message());  // next interval
      continue;
    }
    blobs_removed_ += sweep->removed;
    blob_bytes_removed_ += static_cast<int64_t>(sweep->removed_bytes);
    if (sweep->removed > 0) {
      common::GetLogger("blobs")->info("removed {} blobs ({} bytes) no record needs; {} kept", sweep->removed,
                               sweep->removed_bytes, sweep->kept);
    }
  }
}

void ValidatorDaemon::RunWeightPublication() {
  // The first set soon after the start: a validator restarted more often than the interval still
  // publishes.
  int64_t wait_ms = std::min<int64_t>(weight_options_.interval_ms, kFirstWeightsAfterMs);
  Store& store = *data_.store;
  while (!WaitUnlessStopping(std::chrono::milliseconds(wait_ms))) {
    wait_ms = weight_options_.interval_ms;
    common::Result<WeightSetRecord> published =
        PublishWeights(store, store, store, store, scoring_options_, weight_options_, data_.root / "weights.json",
                       auth_.validator_id(), now_ms_, &stop_evaluating_);
    if (!published.ok() && published.status().code() != common::StatusCode::kAborted) {
      common::GetLogger("weights")->error("publishing weights: {}", published.status().message());  // next interval
    }
  }
}

void ValidatorDaemon::RunEvaluations() {
  while (!stop_evaluating_) {
    if (common::Status status = EvaluateDueTasks(); !status.ok() && status.code() != common::StatusCode::kAborted) {
      common::GetLogger("validator")->error("evaluating tasks: {}", status.message());  // tried again next round
    }
    WaitUnlessStopping(kEvaluationInterval);
  }
}

common::Status ValidatorDaemon::EvaluateDueTasks() {
  Store& store = *data_.store;
  GRADIENTS_RETURN_IF_ERROR(StartEvaluations(store, now_ms_()));
  common::Result<std::vector<TaskRecord>> tasks = store.ListTasks(TaskStatus::kEvaluating);
  if (!tasks.ok()) return tasks.status();
  for (const TaskRecord& task : *tasks) {
    if (stop_evaluating_) return common::Status::Aborted("stopping");
    common::Status evaluated = EvaluateTask(store, store, store, store, store, *data_.blobs, evaluation_options_,
                                            scoring_options_, task.id, now_ms_, &stop_evaluating_);
    if (evaluated.code() == common::StatusCode::kAborted) return evaluated;
    if (evaluated.code() == common::StatusCode::kInternal || evaluated.code() == common::StatusCode::kDataLoss ||
        evaluated.code() == common::StatusCode::kNotFound) {
      // The task's own inputs cannot be evaluated (the evaluator fails on its base model or split,
      // or their blobs are gone): no miner is to blame, none gets points.
      const std::string reason = "evaluation failed: " + evaluated.message();
      GRADIENTS_RETURN_IF_ERROR(
          store.TransitionTask(task.id, TaskStatus::kEvaluating, TaskStatus::kFailed, reason, now_ms_()));
      common::GetLogger("validator")->error("task {}: evaluating -> failed: {}", task.id, reason);
    } else if (!evaluated.ok()) {
      // Perhaps passing (the evaluator is not installed, a full disk): tried again next round;
      // the other tasks go on meanwhile.
      common::GetLogger("validator")->error("task {}: not evaluated yet: {}", task.id, evaluated.message());
      continue;
    }
    // Scored or failed: the parts of uploads that never finished are of no more use.
    if (common::Status discarded = uploads_->DiscardLeftovers(task.id); !discarded.ok()) {
      common::GetLogger("validator")->warn("task {}: unfinished uploads not removed: {}", task.id, discarded.message());
    }
  }
  return common::Status::Ok();
}

common::Status ValidatorDaemon::AdvanceOffers(int64_t now_ms) {
  Store& store = *data_.store;
  GRADIENTS_RETURN_IF_ERROR(CloseOfferWindows(store, store, offer_options_, now_ms));
  common::Result<std::vector<Offer>> open = ListOpenOffers(store, store, store, now_ms);
  if (!open.ok()) return open.status();
  common::Result<std::vector<MinerClaims>> claims = store.ListMinerClaims();
  if (!claims.ok()) return claims.status();
  offers_.Update(*open, *claims, now_ms);
  return common::Status::Ok();
}

common::Status ValidatorDaemon::PrepareTasks(int64_t now_ms) {
  Store& store = *data_.store;
  for (TaskStatus status : {TaskStatus::kPending, TaskStatus::kPreparing}) {
    common::Result<std::vector<TaskRecord>> tasks = store.ListTasks(status);
    if (!tasks.ok()) return tasks.status();
    for (const TaskRecord& task : *tasks) {
      common::Status prepared = PrepareTask(store, store, *data_.blobs, task.id, now_ms, offer_options_.window_ms);
      if (prepared.ok()) {
        common::GetLogger("validator")->info("task {}: {} -> offering", task.id, TaskStatusName(status));
        continue;
      }
      // A task that cannot be prepared fails with the reason; one that hit a passing trouble (a full
      // disk, say) is tried again at the next round. Neither holds up the others.
      common::Result<TaskRecord> now = store.GetTask(task.id);
      if (now.ok() && now->status == TaskStatus::kFailed) {
        common::GetLogger("validator")->warn("task {}: failed: {}", task.id, prepared.message());
      } else {
        common::GetLogger("validator")->error("task {}: not prepared yet: {}", task.id, prepared.message());
      }
    }
  }
  return common::Status::Ok();
}

common::Status ValidatorDaemon::StartGateway(const GatewayOptions& options) {
  common::Result<std::shared_ptr<grpc::ServerCredentials>> credentials = GatewayCredentials(options);
  if (!credentials.ok()) return credentials.status();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, *credentials, &gateway_port_);
  builder.SetMaxReceiveMessageSize(static_cast<int>(options.max_message_bytes));
  builder.SetMaxSendMessageSize(static_cast<int>(options.max_message_bytes));
  // A second process on the same port (another validator, say) is an error, not a share of the traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(options.keepalive_time_ms));
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(options.keepalive_timeout_ms));
  builder.RegisterService(&gateway_service_);
  gateway_ = builder.BuildAndStart();
  if (gateway_ == nullptr || gateway_port_ == 0) {
    return common::Status::Unavailable("gateway.listen: cannot listen on " + options.listen);
  }
  common::GetLogger("validator")->info("serving miners on port {}", gateway_port_);
  return common::Status::Ok();
}

common::Status ValidatorDaemon::StartAdmin(const AdminOptions& options) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, grpc::InsecureServerCredentials(), &admin_port_);
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.RegisterService(&admin_service_);
  admin_ = builder.BuildAndStart();
  if (admin_ == nullptr || admin_port_ == 0) return common::Status::Unavailable("admin.listen: cannot listen on " + options.listen);
  common::GetLogger("validator")->info("serving the operator on port {}{}", admin_port_,
                               IsLoopback(options.listen) ? " (loopback)" : " (token required)");
  return common::Status::Ok();
}

void ValidatorDaemon::Shutdown() {
  if (gateway_ == nullptr && admin_ == nullptr && !task_loop_.joinable()) return;
  metrics_server_.reset();
  const auto deadline = std::chrono::system_clock::now() + kShutdownGrace;
  // Open offer streams would hold the server's shutdown up until its grace ran out.
  offers_.EndAll(common::Status::Unavailable("the validator is stopping; subscribe again later"));
  for (std::unique_ptr<grpc::Server>* server : {&gateway_, &admin_}) {
    if (*server == nullptr) continue;
    (*server)->Shutdown(deadline);
    (*server)->Wait();
    server->reset();
  }
  if (task_loop_.joinable()) {
    {
      std::lock_guard lock(loop_mutex_);
      stopping_ = true;
      stop_evaluating_ = true;  // also kills a running evaluation child and ends the publisher
    }
    loop_wake_.notify_all();
    task_loop_.join();
    evaluator_.join();
    publisher_.join();
    if (blob_remover_.joinable()) blob_remover_.join();
  }
  common::GetLogger("validator")->info("stopped");
}

ValidatorDaemon::~ValidatorDaemon() { Shutdown(); }

}  // namespace gradients::validator
