// The local testnet: one validator and several miners on loopback, run from one directory.
//   prepare: the base model (pretrained here, cached), the task datasets and the miners' keys;
//   watch:   each scored round's leaderboard (miner, strategy, test loss, points) and the weights;
//   run:     prepare, start the daemons, watch until Ctrl-C (or N rounds), stop them all cleanly.
// What it runs is in a configs directory (configs/testnet): testnet.json names the validator's
// and the miners' config files and says how to make the base model and datasets; paths in all of
// them are relative to the testnet directory, the daemons' working directory. docker compose runs
// the same configs (docker/docker-compose.yml).
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>
#include <vector>

#include "cli/base_model.h"
#include "common/config.h"
#include "common/status.h"

namespace gradients::cli {

struct TestnetBaseModel {
  std::string out = "base-model";
  std::string corpus = "pretraining-text";  // a corpus source (corpora/task_datasets.h)
  int64_t corpus_rows = 0;                  // documents of it to train on; 0: all
  BaseModelRecipe recipe{};                 // its keys sit beside these (cli/base_model.h)
};
void ReadConfig(common::ConfigReader& reader, TestnetBaseModel& options);

struct TestnetDataset {
  std::string out;     // required: a .jsonl path
  std::string corpus;  // required: a corpus source
  int64_t rows = 0;    // 0: all
  uint64_t seed = 0;
};
void ReadConfig(common::ConfigReader& reader, TestnetDataset& options);

struct TestnetPlan {
  std::string validator = "validator.json";  // config files, relative to the configs directory
  std::vector<std::string> miners{};
  TestnetBaseModel base_model{};
  std::vector<TestnetDataset> datasets{};
};
void ReadConfig(common::ConfigReader& reader, TestnetPlan& plan);

struct TestnetOptions {
  std::filesystem::path dir = ".testnet";
  std::filesystem::path configs;  // holds testnet.json; empty: DefaultTestnetConfigs()
  std::filesystem::path cache;    // base models; empty: $XDG_CACHE_HOME/gradients or ~/.cache/gradients
  int64_t rounds = 0;             // run/watch: stop after this many scored rounds; 0: until Ctrl-C
  int64_t timeout_seconds = 0;    // run/watch: give up (exit 1) after this long; 0: never
};

// configs/testnet of the source tree this program was built in, else /etc/gradients/testnet.
std::filesystem::path DefaultTestnetConfigs();

// What Ctrl-C (SIGINT, SIGTERM, SIGHUP) asks of a running command: the first `stop` (finish
// cleanly: the daemons get SIGTERM and time to checkpoint), a second one `force` (kill them now).
struct TestnetSignals {
  std::atomic<bool> stop{false};
  std::atomic<bool> force{false};
};

// Each returns the process exit code; progress goes to `out`, errors to `err`.
int PrepareTestnet(const TestnetOptions& options, const TestnetSignals& signals, std::ostream& out, std::ostream& err);
int WatchTestnet(const TestnetOptions& options, const TestnetSignals& signals, std::ostream& out, std::ostream& err);
int RunTestnet(const TestnetOptions& options, const TestnetSignals& signals, std::ostream& out, std::ostream& err);

}  // namespace gradients::cli
