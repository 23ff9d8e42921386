// The miner's configuration (`gradients-miner --config FILE`), JSON validated at start: unknown
// keys are refused and every error names its field (common/config.h). Example:
// configs/miner.example.json.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/logging.h"
#include "miner/search_strategy.h"

namespace gradients::miner {

// A validator this miner works for.
struct ValidatorEndpoint {
  std::string address;  // host:port of its MinerGateway
  // The id it signs challenges with: a challenge naming another is refused, so that nobody can
  // pass another validator's challenge through to win a session in this miner's name.
  std::string validator_id;
  std::string tls_ca_file;  // PEM roots that verify its certificate; empty: plaintext
};
void ReadConfig(common::ConfigReader& reader, ValidatorEndpoint& endpoint);

// What the miner declares to validators and holds itself to when it takes offers.
struct MinerCapacity {
  int64_t max_model_parameters = 8'000'000'000;
  int64_t max_concurrent_tasks = 1;
  std::vector<std::string> task_types = {"instruct", "chat", "text"};
};
void ReadConfig(common::ConfigReader& reader, MinerCapacity& capacity);

// Waits between attempts to reach a validator: doubled after each failure, with jitter, up to the
// longest.
struct ReconnectOptions {
  int64_t initial_backoff_ms = 1000;
  int64_t max_backoff_ms = 60'000;
};
void ReadConfig(common::ConfigReader& reader, ReconnectOptions& options);

// How checkpoints go to validators (miner/checkpoint_upload.h).
struct UploadOptions {
  uint64_t chunk_bytes = 1 << 20;     // 1 to 1 MiB
  uint64_t max_bytes_per_second = 0;  // paced below this, for a link shared with others; 0: no pacing
  // Shutdown: the stream is cancelled (ABORTED); what the validator holds stays for a resume.
  const std::atomic<bool>* stop = nullptr;
  // The clock the signed envelope's creation time is read from (a job passes its own).
  common::ClockMs now_ms = common::SystemClockMs;
};
void ReadConfig(common::ConfigReader& reader, UploadOptions& options);

// How each job runs (miner/training_job.h).
struct JobOptions {
  int64_t upload_reserve_seconds = 60;  // training stops this long before the deadline
  int64_t checkpoint_every_steps = 10;  // a killed miner loses at most this many steps of a run
  int64_t progress_interval_seconds = 5;
  int cpu_threads = 0;  // libtorch's on the CPU; 0 chooses
};
void ReadConfig(common::ConfigReader& reader, JobOptions& options);

struct MinerOptions {
  std::string key_file;                         // required: the identity seed (`gradients keygen`), mode 0600
  std::vector<ValidatorEndpoint> validators{};  // at least one
  std::string work_dir;                         // required: models, datasets, jobs and their checkpoints
  std::string device = "cpu";                   // cpu, cuda or cuda:N
  MinerCapacity capacity{};
  StrategyOptions strategy{};
  JobOptions jobs{};
  UploadOptions upload{};
  ReconnectOptions reconnect{};
  common::LogOptions log{};
};
void ReadConfig(common::ConfigReader& reader, MinerOptions& options);

}  // namespace gradients::miner
