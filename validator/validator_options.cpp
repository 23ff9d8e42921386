#include "validator/validator_options.h"

#include <unistd.h>

#include <filesystem>

namespace gradients::validator {
namespace {

// gRPC takes its times in milliseconds as int.
constexpr int64_t kMaxIntMs = 2'147'483'647;

}  // namespace

void ReadConfig(common::ConfigReader& reader, GatewayOptions& options) {
  reader.Optional("listen", options.listen)
      .Optional("max_message_bytes", options.max_message_bytes)
      .Optional("keepalive_time_ms", options.keepalive_time_ms)
      .Optional("keepalive_timeout_ms", options.keepalive_timeout_ms)
      .Optional("tls_certificate_file", options.tls_certificate_file)
      .Optional("tls_private_key_file", options.tls_private_key_file)
      .Optional("miner_requests_per_second", options.miner_limits.requests_per_second)
      .Optional("miner_request_burst", options.miner_limits.request_burst)
      .Optional("miner_max_streams", options.miner_limits.max_streams)
      .Check(options.miner_limits.requests_per_second > 0 && options.miner_limits.requests_per_second <= 1e6,
             "miner_requests_per_second", "must be positive")
      .Check(options.miner_limits.request_burst >= 1, "miner_request_burst", "must be at least 1")
      .Check(options.miner_limits.max_streams >= 1 && options.miner_limits.max_streams <= 1024, "miner_max_streams",
             "must be between 1 and 1024")
      .Check(options.listen.rfind(':') != std::string::npos, "listen", "expected host:port")
      .Check(options.max_message_bytes >= 64 * 1024 && options.max_message_bytes <= (int64_t{1} << 30),
             "max_message_bytes", "must be between 65536 and 1073741824")
      .Check(options.keepalive_time_ms >= 1000 && options.keepalive_time_ms <= kMaxIntMs, "keepalive_time_ms",
             "must be between 1000 and 2147483647")
      .Check(options.keepalive_timeout_ms >= 1000 && options.keepalive_timeout_ms <= kMaxIntMs, "keepalive_timeout_ms",
             "must be between 1000 and 2147483647")
      .Check(options.tls_certificate_file.empty() == options.tls_private_key_file.empty(), "tls_private_key_file",
             "TLS needs both tls_certificate_file and tls_private_key_file, or neither");
}

bool IsLoopback(std::string_view listen) {
  const std::string_view host = listen.substr(0, listen.rfind(':'));
  return host == "localhost" || host == "[::1]" || host.starts_with("127.");
}

void ReadConfig(common::ConfigReader& reader, AdminOptions& options) {
  reader.Optional("listen", options.listen)
      .Optional("token_file", options.token_file)
      .Check(options.listen.rfind(':') != std::string::npos, "listen", "expected host:port")
      .Check(IsLoopback(options.listen) || !options.token_file.empty(), "token_file",
             "required when admin.listen is not a loopback address");
}

void ReadConfig(common::ConfigReader& reader, MetricsOptions& options) {
  reader.Optional("listen", options.listen)
      .Check(options.listen.empty() || options.listen.rfind(':') != std::string::npos, "listen", "expected host:port");
}

void ReadConfig(common::ConfigReader& reader, ContentSource& source) {
  reader.Required("path", source.path).Optional("name", source.name).Check(!source.path.empty(), "path", "is empty");
}

void ReadConfig(common::ConfigReader& reader, MinerAuthOptions& options) {
  reader.Required("validator_id", options.validator_id)
      .Optional("challenge_ttl_ms", options.challenge_ttl_ms)
      .Optional("session_ttl_ms", options.session_ttl_ms)
      .Optional("max_challenges_per_key", options.max_challenges_per_key)
      .Optional("max_challenges_per_peer", options.max_challenges_per_peer)
      .Optional("max_challenges", options.max_challenges)
      .Optional("max_sessions", options.max_sessions)
      .Check(!options.validator_id.empty() && options.validator_id.size() <= 64, "validator_id",
             "must be 1 to 64 bytes")
      .Check(options.challenge_ttl_ms >= 1000 && options.challenge_ttl_ms <= 3'600'000, "challenge_ttl_ms",
             "must be between 1000 and 3600000 (an hour)")
      .Check(options.session_ttl_ms >= 60'000 && options.session_ttl_ms <= 30 * 86'400'000LL, "session_ttl_ms",
             "must be between 60000 and 2592000000 (30 days)")
      .Check(options.max_challenges_per_key >= 1, "max_challenges_per_key", "must be at least 1")
      .Check(options.max_challenges_per_peer >= 1, "max_challenges_per_peer", "must be at least 1")
      .Check(options.max_challenges >= options.max_challenges_per_key, "max_challenges",
             "must be at least max_challenges_per_key")
      .Check(options.max_sessions >= 1, "max_sessions", "must be at least 1");
}

void ReadConfig(common::ConfigReader& reader, UploadOptions& options) {
  reader.Optional("max_chunk_bytes", options.max_chunk_bytes)
      .Optional("max_bytes_per_model_byte", options.max_bytes_per_model_byte)
      .Optional("max_bytes_allowance", options.max_bytes_allowance)
      .Optional("sync_interval_bytes", options.sync_interval_bytes)
      .Optional("max_open_uploads", options.max_open_uploads)
      .Optional("max_uploads_per_claim", options.max_uploads_per_claim)
      .Check(options.max_chunk_bytes >= 4096 && options.max_chunk_bytes <= (1 << 20), "max_chunk_bytes",
             "must be between 4096 and 1048576 (the protocol's limit)")
      .Check(options.max_bytes_per_model_byte >= 0.01 && options.max_bytes_per_model_byte <= 100, "max_bytes_per_model_byte",
             "must be between 0.01 and 100")
      .Check(options.max_bytes_allowance <= (uint64_t{1} << 40), "max_bytes_allowance", "must be at most 1 TiB")
      .Check(options.sync_interval_bytes >= (1 << 20), "sync_interval_bytes", "must be at least 1048576")
      .Check(options.max_open_uploads >= 1, "max_open_uploads", "must be at least 1")
      .Check(options.max_uploads_per_claim >= 1, "max_uploads_per_claim", "must be at least 1");
}

void ReadConfig(common::ConfigReader& reader, RetentionOptions& options) {
  reader.Optional("keep_finished_ms", options.keep_finished_ms)
      .Optional("grace_ms", options.grace_ms)
      .Optional("sweep_interval_ms", options.sweep_interval_ms)
      .Check(options.keep_finished_ms >= 0, "keep_finished_ms", "must not be negative")
      .Check(options.grace_ms >= 60'000, "grace_ms",
             "must be at least 60000 (uploads record their files after storing them)")
      .Check(options.sweep_interval_ms == 0 || options.sweep_interval_ms >= 1000, "sweep_interval_ms",
             "must be 0 (never remove) or at least 1000");
}

void ReadConfig(common::ConfigReader& reader, OfferOptions& options) {
  reader.Optional("window_ms", options.window_ms)
      .Optional("rounds", options.rounds)
      .Optional("wave_interval_ms", options.wave_interval_ms)
      .Optional("recent_ms", options.recent_ms)
      .Check(options.window_ms >= 1000 && options.window_ms <= 86'400'000, "window_ms",
             "must be between 1000 and 86400000 (a day)")
      .Check(options.rounds >= 1 && options.rounds <= 100, "rounds", "must be between 1 and 100")
      .Check(options.wave_interval_ms >= 100 && options.wave_interval_ms <= options.window_ms, "wave_interval_ms",
             "must be between 100 and window_ms")
      .Check(options.recent_ms >= 0, "recent_ms", "must not be negative");
}

std::string DefaultGradientsPath() {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error);
  if (error) return "";
  for (const std::filesystem::path& candidate :
       {self.parent_path() / "gradients", self.parent_path().parent_path() / "cli" / "gradients"}) {
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

void ReadConfig(common::ConfigReader& reader, EvaluationOptions& options) {
  reader.Optional("gradients_path", options.gradients_path)
      .Optional("memory_limit_bytes", options.memory_limit_bytes)
      .Optional("cpu_seconds", options.cpu_seconds)
      .Optional("timeout_ms", options.timeout_ms)
      .Optional("threads", options.threads)
      .Optional("max_length", options.max_length)
      .Check(!options.gradients_path.empty(), "gradients_path",
             "required: no gradients program was found next to gradients-validator")
      .Check(options.memory_limit_bytes == 0 || options.memory_limit_bytes >= (uint64_t{256} << 20),
             "memory_limit_bytes", "must be 0 (derived from the base model's size) or at least 268435456")
      .Check(options.timeout_ms >= 1000, "timeout_ms", "must be at least 1000")
      .Check(options.threads >= 1 && options.threads <= 256, "threads", "must be between 1 and 256")
      .Check(options.max_length >= 16 && options.max_length <= 1 << 20, "max_length", "must be between 16 and 1048576");
}

void ReadConfig(common::ConfigReader& reader, ScoringOptions& options) {
  reader.Optional("first_place_points", options.first_place_points)
      .Optional("other_points", options.other_points)
      .Optional("penalty_points", options.penalty_points)
      .Optional("windows", options.windows)
      .Optional("sigmoid_steepness", options.sigmoid_steepness)
      .Check(!options.windows.empty(), "windows", "at least one")
      .Check(options.sigmoid_steepness > 0, "sigmoid_steepness", "must be positive")
      .Check(options.first_place_points > options.other_points, "first_place_points", "must exceed other_points")
      .Check(options.penalty_points <= options.other_points, "penalty_points", "must not exceed other_points");
}

void ReadConfig(common::ConfigReader& reader, WeightWindow& window) {
  reader.Required("days", window.days)
      .Required("weight", window.weight)
      .Check(window.days >= 1 && window.days <= 365, "days", "must be between 1 and 365")
      .Check(window.weight >= 0, "weight", "must not be negative");
}

void ReadConfig(common::ConfigReader& reader, WeightPublicationOptions& options) {
  reader.Optional("interval_ms", options.interval_ms)
      .Optional("sink_command", options.sink_command)
      .Optional("sink_attempts", options.sink_attempts)
      .Optional("sink_backoff_ms", options.sink_backoff_ms)
      .Optional("sink_timeout_ms", options.sink_timeout_ms)
      .Check(options.interval_ms >= 1000, "interval_ms", "must be at least 1000")
      .Check(options.sink_command.empty() || options.sink_command.front().starts_with("/"), "sink_command",
             "the program must be an absolute path")
      .Check(options.sink_attempts >= 1 && options.sink_attempts <= 100, "sink_attempts", "must be between 1 and 100")
      .Check(options.sink_backoff_ms >= 0, "sink_backoff_ms", "must not be negative")
      .Check(options.sink_timeout_ms >= 1000, "sink_timeout_ms", "must be at least 1000");
}

void ReadConfig(common::ConfigReader& reader, ValidatorOptions& options) {
  reader.Required("data_dir", options.data_dir)
      .Optional("gateway", options.gateway)
      .Optional("admin", options.admin)
      .Required("auth", options.auth)
      .Optional("uploads", options.uploads)
      .Optional("retention", options.retention)
      .Optional("offers", options.offers)
      .Optional("evaluation", options.evaluation)
      .Optional("scoring", options.scoring)
      .Optional("weights", options.weights)
      .Optional("metrics", options.metrics)
      .Optional("tasks", options.tasks)
      .Optional("scheduler", options.scheduler)
      .Optional("log", options.log)
      .Optional("models", options.models)
      .Optional("datasets", options.datasets)
      .Check(!options.data_dir.empty(), "data_dir", "is empty")
      .Check(options.scheduler.tasks_in_flight == 0 || DurationsWithin(options.scheduler, options.tasks), "scheduler",
             "every pool template's durations must lie within tasks.min_duration_seconds and "
             "tasks.max_duration_seconds");
}

}  // namespace gradients::validator
