#include "validator/validator_options.h"

#include <gtest/gtest.h>

namespace gradients::validator {
namespace {

TEST(ValidatorOptions, TheExampleConfigIsValid) {
  common::Result<ValidatorOptions> options = common::LoadConfigFile<ValidatorOptions>(
      std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / ".." / ".." / "configs" / "validator.example.json", "validator");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->auth.validator_id, "my-validator");
  EXPECT_EQ(options->gateway.listen, "0.0.0.0:7400");
  EXPECT_EQ(options->models.at(0).name, "tinyllama-1.1b");
}

TEST(ValidatorOptions, EveryProblemIsReportedWithItsField) {
  const nlohmann::json config = {{"data_dir", "/tmp/v"},
                                 {"auth", {{"validator_id", std::string(65, 'v')}}},
                                 {"gateway", {{"listen", "no-port"}, {"tls_certificate_file", "cert.pem"}}},
                                 {"admin", {{"listen", "0.0.0.0:7401"}}},
                                 {"retention", {{"grace_ms", 10}, {"keep_finished_ms", -1}}},
                                 {"models", {{{"name", "no path"}}}}};
  common::Result<ValidatorOptions> options = common::ParseConfig<ValidatorOptions>(config, "validator");
  ASSERT_FALSE(options.ok());
  const std::string message = options.status().message();
  for (const char* expected :
       {"validator.auth.validator_id: must be 1 to 64 bytes", "validator.gateway.listen: expected host:port",
        "validator.gateway.tls_private_key_file: TLS needs both", "validator.models[0].path: required key is missing",
        "validator.admin.token_file: required when admin.listen is not a loopback address",
        "validator.retention.grace_ms: must be at least 60000", "validator.retention.keep_finished_ms: must not be"}) {
    EXPECT_NE(message.find(expected), std::string::npos) << expected << " in:\n" << message;
  }
}

TEST(ValidatorOptions, TaskDurationsComeInMinutesOrSecondsWithinTheTasksLimits) {
  auto parse = [](const nlohmann::json& tasks, const nlohmann::json& durations) {
    nlohmann::json pattern = {{"model", "m"}, {"dataset", "d"}};
    pattern.update(durations);
    return common::ParseConfig<ValidatorOptions>({{"data_dir", "/tmp/v"},
                                          {"auth", {{"validator_id", "v"}}},
                                          {"tasks", tasks},
                                          {"scheduler", {{"tasks_in_flight", 1}, {"pool", {pattern}}}}},
                                         "validator");
  };
  common::Result<ValidatorOptions> testnet = parse({{"min_duration_seconds", 30}}, {{"seconds", {45, 90}}});
  ASSERT_TRUE(testnet.ok()) << testnet.status().ToString();
  EXPECT_EQ(testnet->tasks.min_duration_s, 30);
  EXPECT_EQ(testnet->scheduler.pool.at(0).durations_s, (std::vector<int64_t>{45, 90}));
  common::Result<ValidatorOptions> hours = parse(nlohmann::json::object(), {{"minutes", {60, 180}}});
  ASSERT_TRUE(hours.ok()) << hours.status().ToString();
  EXPECT_EQ(hours->scheduler.pool.at(0).durations_s, (std::vector<int64_t>{3600, 10800}));

  struct Case {
    nlohmann::json tasks, durations;
    const char* expected;
  };
  for (const Case& bad : std::vector<Case>{
           {nlohmann::json::object(), {{"seconds", {45}}}, "validator.scheduler: every pool template's durations"},
           {nlohmann::json::object(), {{"minutes", {60}}, {"seconds", {60}}}, "validator.scheduler.pool[0].seconds: "},
           {nlohmann::json::object(), {{"minutes", {0}}}, "validator.scheduler.pool[0].minutes: each between 1"},
           {nlohmann::json::object(), {{"minutes", nlohmann::json::array()}}, "validator.scheduler.pool[0].minutes: at least"},
           {{{"min_duration_seconds", 0}}, {{"minutes", {60}}}, "validator.tasks.min_duration_seconds: must be"},
           {{{"max_duration_seconds", 604801}}, {{"minutes", {60}}}, "validator.tasks.max_duration_seconds: must be"}}) {
    common::Result<ValidatorOptions> options = parse(bad.tasks, bad.durations);
    ASSERT_FALSE(options.ok()) << bad.expected;
    EXPECT_NE(options.status().message().find(bad.expected), std::string::npos) << options.status().message();
  }
}

}  // namespace
}  // namespace gradients::validator
