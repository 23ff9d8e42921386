#include "testnet/testnet_plan.h"

#include <cstdlib>

#include <nlohmann/json.hpp>

#include "common/durable_file.h"

namespace gradients::testnet {

void ReadConfig(common::ConfigReader& reader, TestnetBaseModel& options) {
  reader.Optional("out", options.out).Optional("corpus", options.corpus).Optional("corpus_rows", options.corpus_rows);
  ReadRecipeKeys(reader, options.recipe);
  reader.Check(!options.out.empty(), "out", "must not be empty")
      .Check(options.corpus_rows >= 0, "corpus_rows", "must not be negative");
}

void ReadConfig(common::ConfigReader& reader, TestnetDataset& options) {
  reader.Required("out", options.out)
      .Required("corpus", options.corpus)
      .Optional("rows", options.rows)
      .Optional("seed", options.seed);
  reader.Check(options.rows >= 0, "rows", "must not be negative");
}

void ReadConfig(common::ConfigReader& reader, TestnetPlan& plan) {
  reader.Optional("validator", plan.validator)
      .Required("miners", plan.miners)
      .Optional("base_model", plan.base_model)
      .Optional("datasets", plan.datasets);
  reader.Check(!plan.miners.empty(), "miners", "must name at least one miner config");
}

std::filesystem::path DefaultTestnetConfigs() {
#ifdef GRADIENTS_SOURCE_DIR
  const std::filesystem::path source = std::filesystem::path(GRADIENTS_SOURCE_DIR) / "configs" / "testnet";
  if (std::filesystem::exists(source / "testnet.json")) return source;
#endif
  return "/etc/gradients/testnet";
}

namespace {

common::Result<TestnetValidator> ReadValidatorConfig(const std::filesystem::path& path) {
  common::Result<nlohmann::json> json = common::ReadJsonFile(path);
  if (!json.ok()) return json.status();
  TestnetValidator validator;
  if (json->contains("data_dir") && (*json)["data_dir"].is_string()) validator.data_dir = (*json)["data_dir"];
  if (validator.data_dir.empty()) return common::Status::InvalidArgument(path.string() + ": data_dir is required");
  if (json->contains("admin") && (*json)["admin"].is_object() && (*json)["admin"].contains("listen") &&
      (*json)["admin"]["listen"].is_string()) {
    validator.admin_listen = (*json)["admin"]["listen"];
  }
  return validator;
}

}  // namespace

common::Result<LoadedTestnet> LoadTestnet(const TestnetOptions& options) {
  const std::filesystem::path configs = options.configs.empty() ? DefaultTestnetConfigs() : options.configs;
  LoadedTestnet loaded;
  common::Result<TestnetPlan> plan = common::LoadConfigFile<TestnetPlan>(configs / "testnet.json", "testnet");
  if (!plan.ok()) return plan.status();
  loaded.plan = *plan;
  loaded.validator_config = std::filesystem::absolute(configs / loaded.plan.validator);
  common::Result<TestnetValidator> validator = ReadValidatorConfig(loaded.validator_config);
  if (!validator.ok()) return validator.status();
  loaded.validator = *validator;
  for (const std::string& file : loaded.plan.miners) {
    TestnetMiner miner;
    miner.config = std::filesystem::absolute(configs / file);
    miner.name = miner.config.stem().string();
    common::Result<miner::MinerOptions> miner_options = common::LoadConfigFile<miner::MinerOptions>(miner.config, "miner");
    if (!miner_options.ok()) return miner_options.status();
    miner.options = *miner_options;
    loaded.miners.push_back(std::move(miner));
  }
  return loaded;
}

std::filesystem::path InDir(const std::filesystem::path& dir, const std::string& path) {
  return std::filesystem::path(path).is_absolute() ? std::filesystem::path(path) : dir / path;
}

std::filesystem::path BaseModelCacheDir(const TestnetOptions& options) {
  if (!options.cache.empty()) return options.cache;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg != '\0') {
    return std::filesystem::path(xdg) / "gradients" / "base-models";
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return std::filesystem::path(home) / ".cache" / "gradients" / "base-models";
  }
  return options.dir / "cache";
}

std::string AdminAddress(const std::filesystem::path& dir, const LoadedTestnet& testnet) {
  const std::filesystem::path ports = InDir(dir, testnet.validator.data_dir) / "ports.json";
  if (common::Result<std::string> text = common::ReadFileToString(ports, 4096); text.ok()) {
    nlohmann::json json = nlohmann::json::parse(*text, nullptr, false);
    if (json.is_object() && json.contains("admin") && json["admin"].is_number_integer()) {
      return "127.0.0.1:" + std::to_string(json["admin"].get<int>());
    }
  }
  std::string listen = testnet.validator.admin_listen;
  if (listen.starts_with("0.0.0.0:")) listen = "127.0.0.1:" + listen.substr(8);
  if (listen.starts_with("[::]:")) listen = "[::1]:" + listen.substr(5);
  return listen;
}

}  // namespace gradients::testnet
