// The miner's configuration (`gradients-miner --config FILE`), JSON validated at start: unknown
// keys are refused and every error names its field (common/config.h). Example:
// configs/miner.example.json.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/logging.h"

namespace gradients {

// A validator this miner works for.
struct ValidatorEndpoint {
  std::string address;  // host:port of its MinerGateway
  // The id it signs challenges with: a challenge naming another is refused, so that nobody can
  // pass another validator's challenge through to win a session in this miner's name.
  std::string validator_id;
  std::string tls_ca_file;  // PEM roots that verify its certificate; empty: plaintext
};
void ReadConfig(ConfigReader& reader, ValidatorEndpoint& endpoint);

// What the miner declares to validators and holds itself to when it takes offers.
struct MinerCapacity {
  int64_t max_model_parameters = 8'000'000'000;
  int64_t max_concurrent_tasks = 1;
  std::vector<std::string> task_types = {"instruct", "chat", "text"};
};
void ReadConfig(ConfigReader& reader, MinerCapacity& capacity);

// Waits between attempts to reach a validator: doubled after each failure, with jitter, up to the
// longest.
struct ReconnectOptions {
  int64_t initial_backoff_ms = 1000;
  int64_t max_backoff_ms = 60'000;
};
void ReadConfig(ConfigReader& reader, ReconnectOptions& options);

struct MinerOptions {
  std::string key_file;                         // required: the identity seed (`gradients keygen`), mode 0600
  std::vector<ValidatorEndpoint> validators{};  // at least one
  std::string work_dir;                         // required: models, datasets, jobs and their checkpoints
  std::string device = "cpu";                   // cpu, cuda or cuda:N
  MinerCapacity capacity{};
  ReconnectOptions reconnect{};
  LogOptions log{};
};
void ReadConfig(ConfigReader& reader, MinerOptions& options);

}  // namespace gradients
