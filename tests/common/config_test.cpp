#include "common/config.h"

#include <gtest/gtest.h>

#include "common/durable_file.h"
#include "tests/support/temp_dir.h"

namespace example {

// A two-level options struct shaped like the miner's, to exercise paths in messages.
struct StrategyOptions {
  std::string name = "fixed";
  int max_trials = 8;
  double learning_rate = 2e-4;
  std::vector<int> ranks = {8, 16};
};

struct MinerOptions {
  std::string work_dir = "/var/lib/gradients";
  bool use_tls = false;
  uint64_t max_parameters = 1'000'000'000;
  StrategyOptions strategy;
  std::vector<StrategyOptions> fallbacks;
  std::vector<std::string> validators;
};

void ReadConfig(gradients::common::ConfigReader& reader, StrategyOptions& options) {
  reader.OptionalChoice("name", options.name, {"fixed", "random", "halving", "tpe"})
      .Optional("max_trials", options.max_trials)
      .Optional("learning_rate", options.learning_rate)
      .Optional("ranks", options.ranks)
      .Check(options.max_trials >= 1, "max_trials", "must be at least 1");
}

void ReadConfig(gradients::common::ConfigReader& reader, MinerOptions& options) {
  reader.Optional("work_dir", options.work_dir)
      .Optional("use_tls", options.use_tls)
      .Optional("max_parameters", options.max_parameters)
      .Optional("strategy", options.strategy)
      .Optional("fallbacks", options.fallbacks)
      .Required("validators", options.validators);
}

}  // namespace example

namespace gradients::common {
namespace {

using example::MinerOptions;

Result<MinerOptions> Parse(std::string_view text) {
  Result<nlohmann::json> json = nlohmann::json::parse(text);
  return ParseConfig<MinerOptions>(*json, "miner");
}

std::string ErrorOf(std::string_view text) {
  Result<MinerOptions> options = Parse(text);
  EXPECT_FALSE(options.ok()) << text;
  return options.ok() ? "" : options.status().message();
}

TEST(Config, AbsentKeysKeepTheirDefaults) {
  Result<MinerOptions> options = Parse(R"({"validators": ["127.0.0.1:7000"]})");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->work_dir, "/var/lib/gradients");
  EXPECT_EQ(options->strategy.max_trials, 8);
  EXPECT_EQ(options->strategy.ranks, (std::vector<int>{8, 16}));
  EXPECT_EQ(options->validators, std::vector<std::string>{"127.0.0.1:7000"});
}

TEST(Config, ReadsNestedObjectsAndArraysOfObjects) {
  Result<MinerOptions> options = Parse(R"({
    "validators": [], "use_tls": true, "max_parameters": 500000,
    "strategy": {"name": "tpe", "max_trials": 20, "learning_rate": 1, "ranks": [4]},
    "fallbacks": [{"name": "random"}, {"max_trials": 2}]})");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_TRUE(options->use_tls);
  EXPECT_EQ(options->max_parameters, 500000u);
  EXPECT_EQ(options->strategy.name, "tpe");
  EXPECT_EQ(options->strategy.learning_rate, 1.0);
  ASSERT_EQ(options->fallbacks.size(), 2u);
  EXPECT_EQ(options->fallbacks[0].name, "random");
  EXPECT_EQ(options->fallbacks[1].max_trials, 2);
  EXPECT_EQ(options->fallbacks[1].name, "fixed");
}

TEST(Config, WrongTypeNamesThePathAndTheValue) {
  EXPECT_EQ(ErrorOf(R"({"validators": [], "strategy": {"max_trials": "ten"}})"),
            "miner.strategy.max_trials: expected an integer, got \"ten\"");
  EXPECT_EQ(ErrorOf(R"({"validators": [], "strategy": {"max_trials": 2.5}})"),
            "miner.strategy.max_trials: expected an integer, got 2.5");
  EXPECT_EQ(ErrorOf(R"({"validators": [], "use_tls": "yes"})"), "miner.use_tls: expected true or false, got \"yes\"");
  EXPECT_EQ(ErrorOf(R"({"validators": [], "strategy": 3})"), "miner.strategy: expected an object, got 3");
  EXPECT_EQ(ErrorOf(R"({"validators": "a"})"), "miner.validators: expected an array, got \"a\"");
}

TEST(Config, ArrayElementsAreNamedByIndex) {
  EXPECT_EQ(ErrorOf(R"({"validators": ["a", 7]})"), "miner.validators[1]: expected a string, got 7");
  EXPECT_EQ(ErrorOf(R"({"validators": [], "fallbacks": [{}, {"max_trials": false}]})"),
            "miner.fallbacks[1].max_trials: expected an integer, got false");
}

TEST(Config, UnknownKeysAreRejectedWithASuggestion) {
  EXPECT_EQ(ErrorOf(R"({"validators": [], "strategy": {"max_trails": 3}})"),
            "miner.strategy.max_trails: unknown key (did you mean \"max_trials\"?)");
  EXPECT_EQ(ErrorOf(R"({"validators": [], "colour": 1})"), "miner.colour: unknown key");
  EXPECT_EQ(ErrorOf(R"({"validators": [], "max_param": 1})"),
            "miner.max_param: unknown key (did you mean \"max_parameters\"?)");
}

TEST(Config, RangeAndChoiceErrorsNameTheRule) {
  EXPECT_EQ(ErrorOf(R"({"validators": [], "strategy": {"max_trials": 0}})"),
            "miner.strategy.max_trials: must be at least 1");
  EXPECT_EQ(ErrorOf(R"({"validators": [], "strategy": {"name": "grid"}})"),
            "miner.strategy.name: expected one of \"fixed\", \"random\", \"halving\", \"tpe\", got \"grid\"");
  EXPECT_EQ(ErrorOf(R"({"validators": [], "max_parameters": -1})"),
            "miner.max_parameters: expected a non-negative integer, got -1");
  EXPECT_EQ(ErrorOf(R"({"validators": [], "strategy": {"max_trials": 3000000000}})"),
            "miner.strategy.max_trials: integer 3000000000 is out of range");
}

TEST(Config, MissingRequiredKeyIsAnError) {
  EXPECT_EQ(ErrorOf("{}"), "miner.validators: required key is missing");
}

TEST(Config, AllErrorsAreReportedTogether) {
  EXPECT_EQ(ErrorOf(R"({"use_tls": 1, "extra": 2})"),
            "miner.use_tls: expected true or false, got 1\n"
            "miner.validators: required key is missing\n"
            "miner.extra: unknown key");
}

TEST(Config, TopLevelMustBeAnObject) {
  EXPECT_EQ(ErrorOf("[1, 2]"), "miner: expected an object, got [1,2]");
}

TEST(Config, FilesAreParsedStrictlyAndErrorsNameTheFile) {
  testing::TempDir dir;
  ASSERT_TRUE(WriteFileDurably(dir / "ok.json", R"({"validators": ["x"], "strategy": {"name": "halving"}})").ok());
  Result<MinerOptions> options = LoadConfigFile<MinerOptions>(dir / "ok.json", "miner");
  ASSERT_TRUE(options.ok()) << options.status().ToString();
  EXPECT_EQ(options->strategy.name, "halving");

  ASSERT_TRUE(WriteFileDurably(dir / "dup.json", R"({"validators": [], "use_tls": true, "use_tls": false})").ok());
  EXPECT_EQ(LoadConfigFile<MinerOptions>(dir / "dup.json", "miner").status().message(),
            (dir / "dup.json").string() + ": duplicate key \"use_tls\"");

  ASSERT_TRUE(WriteFileDurably(dir / "bad.json", R"({"validators": [], "use_tls": 3})").ok());
  EXPECT_EQ(LoadConfigFile<MinerOptions>(dir / "bad.json", "miner").status().message(),
            (dir / "bad.json").string() + ": miner.use_tls: expected true or false, got 3");

  EXPECT_EQ(LoadConfigFile<MinerOptions>(dir / "none.json", "miner").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace gradients::common
