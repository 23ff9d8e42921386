// What a local testnet runs, read from a configs directory (configs/testnet): testnet.json names
// the validator's and the miners' config files and says how to make the base model and the
// datasets; paths in all of them are relative to the testnet directory, the daemons' working
// directory. docker compose runs the same configs (docker/docker-compose.yml).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"
#include "miner/miner_options.h"
#include "proto/admin_address.h"
#include "testnet/base_model.h"

namespace gradients::testnet {

struct TestnetBaseModel {
  std::string out = "base-model";
  std::string corpus = "pretraining-text";  // a corpus source (corpora/task_datasets.h)
  int64_t corpus_rows = 0;                  // documents of it to train on; 0: all
  BaseModelRecipe recipe{};                 // its keys sit beside these (testnet/base_model.h)
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

struct TestnetMiner {
  std::string name;  // its config file's stem: "miner-tpe"
  std::filesystem::path config;
  miner::MinerOptions options;
};

// What the testnet needs of the validator's config; the validator itself checks the rest.
struct TestnetValidator {
  std::string data_dir;
  std::string admin_listen{proto::kDefaultAdminAddress};
};

struct LoadedTestnet {
  TestnetPlan plan;
  std::filesystem::path validator_config;  // absolute
  TestnetValidator validator;
  std::vector<TestnetMiner> miners;
};

// testnet.json of options.configs (or DefaultTestnetConfigs()) with the daemons' configs it names.
common::Result<LoadedTestnet> LoadTestnet(const TestnetOptions& options);

// `path` in the testnet directory `dir`, unless it is absolute.
std::filesystem::path InDir(const std::filesystem::path& dir, const std::string& path);

// Where made base models are kept: options.cache, else $XDG_CACHE_HOME/gradients/base-models, else
// ~/.cache/gradients/base-models, else the testnet directory's cache/.
std::filesystem::path BaseModelCacheDir(const TestnetOptions& options);

// The validator's Admin address: the port it wrote to its data directory's ports.json (port 0 in
// its config picks one), else its config's; a wildcard host is reached on loopback.
std::string AdminAddress(const std::filesystem::path& dir, const LoadedTestnet& testnet);

}  // namespace gradients::testnet
