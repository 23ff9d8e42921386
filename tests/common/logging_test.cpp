#include "common/logging.h"

#include <gtest/gtest.h>

#include "common/durable_file.h"
#include "common/strict_json.h"
#include "tests/support/temp_dir.h"

namespace gradients::common {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  return lines;
}

std::string ReadLog(const std::filesystem::path& path) {
  spdlog::apply_all([](const std::shared_ptr<spdlog::logger>& logger) { logger->flush(); });
  return *ReadFileToString(path, 1 << 20);
}

class LoggingTest : public ::testing::Test {
 protected:
  void TearDown() override { ASSERT_TRUE(ConfigureLogging(LogOptions{}).ok()); }
  testing::TempDir dir_;
};

TEST_F(LoggingTest, JsonLinesAreValidJsonWithEscapedMessages) {
  LogOptions options;
  options.json = true;
  options.file = (dir_ / "log.jsonl").string();
  ASSERT_TRUE(ConfigureLogging(options).ok());
  GetLogger("validator")->info("miner {} said \"hi\"\nforged line", "abc");
  std::vector<std::string> lines = Lines(ReadLog(options.file));
  ASSERT_EQ(lines.size(), 1u);
  Result<nlohmann::json> json = ParseStrictJson(lines[0]);
  ASSERT_TRUE(json.ok()) << lines[0];
  EXPECT_EQ((*json)["logger"], "validator");
  EXPECT_EQ((*json)["level"], "info");
  EXPECT_EQ((*json)["message"], "miner abc said \"hi\"\nforged line");
  EXPECT_TRUE((*json)["time"].get<std::string>().ends_with("Z"));
}

TEST_F(LoggingTest, LevelFiltersMessagesOfEveryComponent) {
  LogOptions options;
  options.level = "warn";
  options.file = (dir_ / "log.txt").string();
  std::shared_ptr<spdlog::logger> early = GetLogger("miner");  // created before configuration
  ASSERT_TRUE(ConfigureLogging(options).ok());
  early->info("hidden");
  early->warn("shown");
  GetLogger("trainer")->debug("hidden too");
  GetLogger("trainer")->error("also shown");
  std::vector<std::string> lines = Lines(ReadLog(options.file));
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_NE(lines[0].find("warning [miner] shown"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("error [trainer] also shown"), std::string::npos) << lines[1];
}

TEST_F(LoggingTest, TextLinesCannotBeSplitOrMadeUnbounded) {
  LogOptions options;
  options.file = (dir_ / "log.txt").string();
  options.max_message_bytes = 100;
  ASSERT_TRUE(ConfigureLogging(options).ok());
  GetLogger("validator")->info("{}", "evil\nfake entry " + std::string(1000, 'x'));
  std::vector<std::string> lines = Lines(ReadLog(options.file));
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_LT(lines[0].size(), 200u);
  EXPECT_TRUE(lines[0].ends_with("[truncated]"));
}

TEST_F(LoggingTest, BadLevelsAndUnwritableFilesAreErrors) {
  EXPECT_EQ(ParseLogLevel("loud").status().message(),
            "unknown log level \"loud\" (expected trace, debug, info, warn, error, critical or off)");
  EXPECT_EQ(*ParseLogLevel("debug"), spdlog::level::debug);
  LogOptions options;
  ASSERT_TRUE(WriteFileDurably(dir_ / "a-file", "x").ok());
  options.file = (dir_ / "a-file" / "log.txt").string();  // a directory cannot be made inside a file
  EXPECT_EQ(ConfigureLogging(options).code(), StatusCode::kIoError);
}

TEST_F(LoggingTest, OptionsAreReadFromConfig) {
  Result<LogOptions> options =
      ParseConfig<LogOptions>(nlohmann::json::parse(R"({"level": "debug", "json": true})"), "log");
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->level, "debug");
  EXPECT_TRUE(options->json);
  EXPECT_EQ(ParseConfig<LogOptions>(nlohmann::json::parse(R"({"level": "loud"})"), "log").status().message(),
            "log.level: expected one of \"trace\", \"debug\", \"info\", \"warn\", \"error\", \"critical\", \"off\", "
            "got \"loud\"");
}

}  // namespace
}  // namespace gradients::common
