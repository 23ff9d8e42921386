#include "miner/miner_options.h"

#include <gtest/gtest.h>

namespace gradients::miner {
namespace {

TEST(MinerOptions, TheExampleConfigIsValid) {
  common::Result<MinerOptions> options = common::LoadConfigFile<MinerOptions>(
      std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / ".." / ".." / "configs" / "miner.example.json", "miner");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->validators.at(0).address, "validator.example.org:7400");
  EXPECT_EQ(options->device, "cuda");
  EXPECT_EQ(options->capacity.max_model_parameters, 8'000'000'000);
  EXPECT_EQ(options->strategy.name, "tpe");
  EXPECT_EQ(options->strategy.search_space.dimensions.size(), 9u);
  EXPECT_TRUE(MakeSearchStrategy(options->strategy).ok()) << MakeSearchStrategy(options->strategy).status().ToString();
}

TEST(MinerOptions, EveryProblemIsReportedWithItsField) {
  const nlohmann::json config = {
      {"validators", {{{"address", "no-port"}}, {{"tls_ca_file", "ca.pem"}}}},
      {"work_dir", "/tmp/m"},
      {"device", "cuda:x"},
      {"capacity", {{"max_concurrent_tasks", 0}, {"task_types", {"instruct", "dpo"}}}},
      {"reconnect", {{"initial_backoff_ms", 5000}, {"max_backoff_ms", 1000}}},
      {"strategy", {{"name", "annealing"}, {"search_space", {{"lora_r", {{"choices", {4, 8.5}}}}}}}},
      {"jobs", {{"upload_reserve_seconds", 0}}},
      {"upload", {{"chunk_bytes", 0}}},
      {"capacities", 1}};
  common::Result<MinerOptions> options = common::ParseConfig<MinerOptions>(config, "miner");
  ASSERT_FALSE(options.ok());
  const std::string message = options.status().message();
  for (const char* expected :
       {"miner.key_file: required key is missing", "miner.validators[0].address: expected host:port",
        "miner.validators[1].address: required key is missing", "miner.device: cpu, cuda or cuda:N",
        "miner.capacity.max_concurrent_tasks: must be between 1 and 64",
        "miner.capacity.task_types: each one of instruct, chat or text",
        "miner.reconnect.max_backoff_ms: must be between initial_backoff_ms",
        "miner.strategy.name: ", "miner.strategy.search_space.lora_r: takes whole numbers only",
        "miner.jobs.upload_reserve_seconds: must be in 1..86400", "miner.upload.chunk_bytes: must be in 1..1048576",
        "miner.capacities: unknown key"}) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << " in:\n" << message;
  }
}

}  // namespace
}  // namespace gradients::miner
