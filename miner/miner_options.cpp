#include "miner/miner_options.h"

#include <algorithm>
#include <set>

namespace gradients::miner {

void ReadConfig(common::ConfigReader& reader, ValidatorEndpoint& endpoint) {
  reader.Required("address", endpoint.address)
      .Required("validator_id", endpoint.validator_id)
      .Optional("tls_ca_file", endpoint.tls_ca_file)
      .Check(!endpoint.validator_id.empty() && endpoint.validator_id.size() <= 64, "validator_id",
             "must be 1 to 64 bytes")
      .Check(endpoint.address.rfind(':') != std::string::npos && endpoint.address.back() != ':', "address",
             "expected host:port");
}

void ReadConfig(common::ConfigReader& reader, MinerCapacity& capacity) {
  static constexpr std::string_view kTypes[] = {"instruct", "chat", "text"};
  reader.Optional("max_model_parameters", capacity.max_model_parameters)
      .Optional("max_concurrent_tasks", capacity.max_concurrent_tasks)
      .Optional("task_types", capacity.task_types)
      .Check(capacity.max_model_parameters >= 1, "max_model_parameters", "must be at least 1")
      .Check(capacity.max_concurrent_tasks >= 1 && capacity.max_concurrent_tasks <= 64, "max_concurrent_tasks",
             "must be between 1 and 64")
      .Check(!capacity.task_types.empty(), "task_types", "at least one")
      .Check(std::set<std::string>(capacity.task_types.begin(), capacity.task_types.end()).size() ==
                 capacity.task_types.size(),
             "task_types", "each at most once")
      .Check(std::all_of(capacity.task_types.begin(), capacity.task_types.end(),
                         [](const std::string& type) {
                           return std::find(std::begin(kTypes), std::end(kTypes), type) != std::end(kTypes);
                         }),
             "task_types", "each one of instruct, chat or text (the types the trainers train)");
}

void ReadConfig(common::ConfigReader& reader, ReconnectOptions& options) {
  reader.Optional("initial_backoff_ms", options.initial_backoff_ms)
      .Optional("max_backoff_ms", options.max_backoff_ms)
      .Check(options.initial_backoff_ms >= 10, "initial_backoff_ms", "must be at least 10")
      .Check(options.max_backoff_ms >= options.initial_backoff_ms && options.max_backoff_ms <= 3'600'000,
             "max_backoff_ms", "must be between initial_backoff_ms and 3600000");
}

void ReadConfig(common::ConfigReader& reader, UploadOptions& options) {
  reader.Optional("chunk_bytes", options.chunk_bytes)
      .Optional("max_bytes_per_second", options.max_bytes_per_second)
      .Check(options.chunk_bytes >= 1 && options.chunk_bytes <= (1 << 20), "chunk_bytes", "must be in 1..1048576");
}

void ReadConfig(common::ConfigReader& reader, JobOptions& options) {
  reader.Optional("upload_reserve_seconds", options.upload_reserve_seconds)
      .Optional("checkpoint_every_steps", options.checkpoint_every_steps)
      .Optional("progress_interval_seconds", options.progress_interval_seconds)
      .Optional("cpu_threads", options.cpu_threads)
      .Check(options.upload_reserve_seconds >= 1 && options.upload_reserve_seconds <= 86'400, "upload_reserve_seconds",
             "must be in 1..86400")
      .Check(options.checkpoint_every_steps >= 0, "checkpoint_every_steps", "must be 0 (at the end only) or positive")
      .Check(options.progress_interval_seconds >= 1, "progress_interval_seconds", "must be at least 1")
      .Check(options.cpu_threads >= 0 && options.cpu_threads <= 1024, "cpu_threads", "must be in 0..1024");
}

void ReadConfig(common::ConfigReader& reader, MinerOptions& options) {
  reader.Required("key_file", options.key_file)
      .Required("validators", options.validators)
      .Required("work_dir", options.work_dir)
      .Optional("device", options.device)
      .Optional("capacity", options.capacity)
      .Optional("strategy", options.strategy)
      .Optional("jobs", options.jobs)
      .Optional("upload", options.upload)
      .Optional("reconnect", options.reconnect)
      .Optional("log", options.log)
      .Check(!options.key_file.empty(), "key_file", "is empty")
      .Check(!options.validators.empty(), "validators", "at least one")
      .Check(!options.work_dir.empty(), "work_dir", "is empty");
  const std::string& device = options.device;
  const bool cuda_index = device.starts_with("cuda:") && device.size() > 5 &&
                          std::all_of(device.begin() + 5, device.end(), [](char c) { return c >= '0' && c <= '9'; });
  reader.Check(device == "cpu" || device == "cuda" || cuda_index, "device", "cpu, cuda or cuda:N");
}

}  // namespace gradients::miner
