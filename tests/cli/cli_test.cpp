// Runs the real `gradients` binary as a user would.
#include <sys/stat.h>

#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/keys.h"
#include "common/safetensors.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace gradients::cli {
namespace {

using testing::ProcessResult;
using testing::RunProcess;

const std::filesystem::path kMalformedDir = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "safetensors/malformed";

testing::ProcessResult Gradients(std::vector<std::string> args) {
  args.insert(args.begin(), GRADIENTS_CLI_PATH);
  return testing::RunProcess(args);
}

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* subcommand :
       {"keygen", "pubkey", "inspect", "tokenize", "eval", "generate", "init-model", "version"}) {
    testing::ProcessResult result = Gradients({subcommand, "--help"});
    EXPECT_EQ(result.exit_code, 0) << subcommand;
    EXPECT_NE(result.out.find("Usage"), std::string::npos) << subcommand << ": " << result.out;
  }
}

TEST(Cli, NoSubcommandIsAUsageError) {
  testing::ProcessResult result = Gradients({});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("subcommand"), std::string::npos) << result.err;
}

TEST(Cli, VersionNamesTheProject) {
  testing::ProcessResult result = Gradients({"version"});
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_TRUE(result.out.starts_with("gradients 0.")) << result.out;
}

TEST(Cli, KeygenWritesA0600SeedAndPubkeyPrintsItsPublicKey) {
  testing::TempDir dir;
  std::string key_path = (dir / "miner.key").string();
  testing::ProcessResult keygen = Gradients({"keygen", "--out", key_path});
  ASSERT_EQ(keygen.exit_code, 0) << keygen.err;
  struct stat st {};
  ASSERT_EQ(::stat(key_path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(st.st_size, 32);

  testing::ProcessResult pubkey = Gradients({"pubkey", "--key", key_path});
  ASSERT_EQ(pubkey.exit_code, 0) << pubkey.err;
  EXPECT_EQ(pubkey.out, keygen.out);
  EXPECT_EQ(pubkey.out, common::ReadKeyFile(key_path)->public_key().ToHex() + "\n");
}

TEST(Cli, KeygenRefusesToOverwriteAnIdentity) {
  testing::TempDir dir;
  std::string key_path = (dir / "miner.key").string();
  ASSERT_EQ(Gradients({"keygen", "--out", key_path}).exit_code, 0);
  testing::ProcessResult again = Gradients({"keygen", "--out", key_path});
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.err.find("refusing to overwrite"), std::string::npos) << again.err;
}

TEST(Cli, PubkeyRefusesAWorldReadableKeyFile) {
  testing::TempDir dir;
  std::string key_path = (dir / "miner.key").string();
  ASSERT_EQ(Gradients({"keygen", "--out", key_path}).exit_code, 0);
  ASSERT_EQ(::chmod(key_path.c_str(), 0644), 0);
  testing::ProcessResult result = Gradients({"pubkey", "--key", key_path});
  EXPECT_NE(result.exit_code, 0);
  EXPECT_NE(result.err.find("accessible by group or others (mode 0644)"), std::string::npos) << result.err;
  EXPECT_TRUE(result.out.empty());
}

TEST(Cli, InspectPrintsTensorsAsJson) {
  testing::TempDir dir;
  common::SafetensorsWriter writer;
  std::vector<uint8_t> data(2 * 3 * 2, 0);
  ASSERT_TRUE(writer.Add("model.embed_tokens.weight", common::DType::kBF16, {2, 3}, data).ok());
  writer.SetMetadata({{"format", "pt"}});
  ASSERT_TRUE(writer.WriteFile(dir / "m.safetensors").ok());

  testing::ProcessResult result = Gradients({"inspect", (dir / "m.safetensors").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  nlohmann::json report = nlohmann::json::parse(result.out);
  ASSERT_EQ(report["tensors"].size(), 1u);
  EXPECT_EQ(report["tensors"][0]["name"], "model.embed_tokens.weight");
  EXPECT_EQ(report["tensors"][0]["dtype"], "BF16");
  EXPECT_EQ(report["tensors"][0]["shape"], nlohmann::json({2, 3}));
  EXPECT_EQ(report["metadata"]["format"], "pt");
}

TEST(Cli, InspectGivesEachMalformedFileADistinctErrorAndFails) {
  std::set<std::string> errors;
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(kMalformedDir)) {
    ++files;
    testing::ProcessResult result = Gradients({"inspect", entry.path().string()});
    EXPECT_EQ(result.exit_code, 1) << entry.path();
    EXPECT_TRUE(result.out.empty()) << entry.path();
    EXPECT_TRUE(result.err.starts_with("gradients inspect: " + entry.path().string() + ": ")) << result.err;
    // The message without the file name must still tell the files apart.
    errors.insert(result.err.substr(result.err.find(".safetensors: ")));
  }
  EXPECT_GE(files, 19u);
  EXPECT_EQ(errors.size(), files) << "two malformed files share an error message";
}

TEST(Cli, InspectOfAMissingFileFails) {
  testing::ProcessResult result = Gradients({"inspect", "/nonexistent/x.safetensors"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("/nonexistent/x.safetensors"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace gradients::cli
