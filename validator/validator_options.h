// The validator's configuration (`gradients-validator --config FILE`), JSON validated at start:
// unknown keys are refused and every error names its field (common/config.h). Example:
// configs/validator.example.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/logging.h"
#include "proto/admin_address.h"
#include "validator/market/checkpoint_uploads.h"
#include "validator/market/miner_auth.h"
#include "validator/market/miner_limits.h"
#include "validator/market/offer_board.h"
#include "validator/rewards/scoring.h"
#include "validator/rewards/weight_publication.h"
#include "validator/state/blob_retention.h"
#include "validator/tasks/scheduler.h"
#include "validator/tasks/task_evaluation.h"

namespace gradients::validator {

// The MinerGateway server miners connect to.
struct GatewayOptions {
  std::string listen = "0.0.0.0:7400";  // host:port; port 0 picks a free one (written to ports.json)
  int64_t max_message_bytes = 4 << 20;  // any one gRPC message, either way
  int64_t keepalive_time_ms = 60'000;   // pings on idle connections...
  int64_t keepalive_timeout_ms = 20'000;  // ...which close when a ping goes unanswered this long
  // TLS: both paths (PEM) or neither (plaintext, for a private network or a TLS-terminating proxy).
  std::string tls_certificate_file;
  std::string tls_private_key_file;
  MinerLimitOptions miner_limits{};  // per miner: calls per second, burst, open streams
};
void ReadConfig(common::ConfigReader& reader, GatewayOptions& options);

// The Admin server the operator's `gradients` commands call.
struct AdminOptions {
  std::string listen{proto::kDefaultAdminAddress};  // loopback: no token needed
  // Required when `listen` is not a loopback address: the token callers must send, in a file only
  // its owner may read (a group- or world-readable one is refused).
  std::string token_file;
};
void ReadConfig(common::ConfigReader& reader, AdminOptions& options);
// Whether `listen` (host:port) binds a loopback address only.
bool IsLoopback(std::string_view listen);

// Monitoring over HTTP: /metrics (Prometheus) and /healthz.
struct MetricsOptions {
  std::string listen;  // host:port; empty: not served (the example config serves 127.0.0.1:7402)
};
void ReadConfig(common::ConfigReader& reader, MetricsOptions& options);

// A base model or dataset registered at start (as `gradients model add` / `dataset add` would).
struct ContentSource {
  std::string path;
  std::string name;  // default: the path's last component
};
void ReadConfig(common::ConfigReader& reader, ContentSource& source);

void ReadConfig(common::ConfigReader& reader, MinerAuthOptions& options);
void ReadConfig(common::ConfigReader& reader, UploadOptions& options);
void ReadConfig(common::ConfigReader& reader, RetentionOptions& options);
void ReadConfig(common::ConfigReader& reader, OfferOptions& options);
// The evaluator child's program and limits (work_dir is the daemon's: <data_dir>/eval).
void ReadConfig(common::ConfigReader& reader, EvaluationOptions& options);
// The points of a task's ranking and the windows of the weights (type weights keep their defaults).
void ReadConfig(common::ConfigReader& reader, ScoringOptions& options);
void ReadConfig(common::ConfigReader& reader, WeightWindow& window);
void ReadConfig(common::ConfigReader& reader, WeightPublicationOptions& options);
// `gradients` next to the running program (an installation's bin/), else in the build tree's
// cli/ beside its validator/, else empty.
std::string DefaultGradientsPath();

struct ValidatorOptions {
  std::string data_dir;  // required: state.db, blobs/ (created private to the owner)
  GatewayOptions gateway{};
  AdminOptions admin{};
  MinerAuthOptions auth{};  // validator_id: what miners sign (required here)
  UploadOptions uploads{};
  RetentionOptions retention{};
  OfferOptions offers{};
  EvaluationOptions evaluation{.gradients_path = DefaultGradientsPath()};
  ScoringOptions scoring{};
  WeightPublicationOptions weights{};
  MetricsOptions metrics{};
  TaskLimits tasks{};  // the training times tasks may have
  SchedulerOptions scheduler{};
  common::LogOptions log{};
  std::vector<ContentSource> models{};
  std::vector<ContentSource> datasets{};
};
void ReadConfig(common::ConfigReader& reader, ValidatorOptions& options);

}  // namespace gradients::validator
