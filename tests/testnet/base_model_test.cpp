// `gradients corpus` and `gradients base-model`, run as real processes: a base model pretrained from
// Debian's texts is the same every time it is made, and made once per recipe.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/digest.h"
#include "common/durable_file.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace gradients::testnet {
namespace {

using testing::ProcessResult;
using testing::RunProcess;

testing::ProcessResult Gradients(std::vector<std::string> args) {
  args.insert(args.begin(), GRADIENTS_CLI_PATH);
  return testing::RunProcess(args);
}

std::string FileDigest(const std::filesystem::path& path) {
  common::Result<common::Digest> digest = common::DigestFile(common::DigestAlgorithm::kBlake2b256, path);
  return digest.ok() ? std::string(digest->begin(), digest->end()) : "unreadable " + path.string();
}

TEST(BaseModel, TheSameRecipeGivesTheSameModelBitForBitAndTheCacheMakesItOnce) {
  testing::TempDir dir;
  const std::string corpus = (dir.path() / "corpus.jsonl").string();
  testing::ProcessResult made = Gradients({"corpus", "pretraining-text", "--rows", "300", "--out", corpus});
  ASSERT_EQ(made.exit_code, 0) << made.err;
  EXPECT_EQ(nlohmann::json::parse(made.out)["rows"], 300);

  const std::vector<std::string> recipe = {"base-model", "--corpus", corpus,     "--preset", "tiny",
                                           "--vocab",    "512",      "--tokens", "6000",     "--max-len",
                                           "64",         "--batch",  "4"};
  auto run = [&](const std::string& out, const std::string& cache) {
    std::vector<std::string> args = recipe;
    args.insert(args.end(), {"--out", (dir.path() / out).string()});
    if (!cache.empty()) args.insert(args.end(), {"--cache", (dir.path() / cache).string()});
    testing::ProcessResult result = Gradients(args);
    EXPECT_EQ(result.exit_code, 0) << result.err;
    return result.exit_code == 0 ? nlohmann::json::parse(result.out) : nlohmann::json();
  };
  const nlohmann::json first = run("first", "cache");
  ASSERT_FALSE(first.is_null());
  EXPECT_FALSE(first["cached"].get<bool>());
  EXPECT_GE(first["trained_tokens"].get<int64_t>(), 6000);
  for (const char* file : {"config.json", "model.safetensors", "tokenizer.model", "base_model.json"}) {
    EXPECT_TRUE(std::filesystem::exists(dir.path() / "first" / file)) << file;
  }
  // Made again without the cache: the same tokenizer and the same weights, bit for bit.
  const nlohmann::json second = run("second", "");
  ASSERT_FALSE(second.is_null());
  EXPECT_FALSE(second["cached"].get<bool>());
  EXPECT_EQ(second["recipe_digest"], first["recipe_digest"]);
  for (const char* file : {"model.safetensors", "tokenizer.model", "config.json"}) {
    EXPECT_EQ(FileDigest(dir.path() / "first" / file), FileDigest(dir.path() / "second" / file)) << file;
  }
  // With the cache: copied, not trained.
  const nlohmann::json third = run("third", "cache");
  ASSERT_FALSE(third.is_null());
  EXPECT_TRUE(third["cached"].get<bool>());
  EXPECT_EQ(FileDigest(dir.path() / "first" / "model.safetensors"),
            FileDigest(dir.path() / "third" / "model.safetensors"));
  // The model is one `gradients eval` reads.
  testing::ProcessResult eval = Gradients(
      {"eval", "--model", (dir.path() / "third").string(), "--data", corpus, "--format", "text", "--max-len", "64"});
  EXPECT_EQ(eval.exit_code, 0) << eval.err;
}

TEST(BaseModel, ACorpusThatIsNotTextDocumentsOrAnOccupiedOutputIsRefusedWithTheReason) {
  testing::TempDir dir;
  ASSERT_TRUE(common::WriteFileDurably(dir.path() / "bad.jsonl", "{\"text\": \"fine\"}\n{\"body\": 3}\n").ok());
  testing::ProcessResult bad = Gradients({"base-model", "--corpus", (dir.path() / "bad.jsonl").string(), "--out",
                                 (dir.path() / "model").string(), "--preset", "tiny", "--vocab", "512"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("bad.jsonl: row 2: expected an object with a string \"text\""), std::string::npos) << bad.err;

  ASSERT_TRUE(common::WriteFileDurably(dir.path() / "good.jsonl", "{\"text\": \"fine\"}\n").ok());
  std::filesystem::create_directories(dir.path() / "occupied");
  ASSERT_TRUE(common::WriteFileDurably(dir.path() / "occupied" / "notes.txt", "mine").ok());
  testing::ProcessResult occupied = Gradients({"base-model", "--corpus", (dir.path() / "good.jsonl").string(), "--out",
                                      (dir.path() / "occupied").string(), "--preset", "tiny", "--vocab", "512"});
  EXPECT_EQ(occupied.exit_code, 1);
  EXPECT_NE(occupied.err.find("holds something other than this recipe's base model"), std::string::npos)
      << occupied.err;
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "occupied" / "notes.txt"));

  testing::ProcessResult unknown = Gradients({"corpus", "poetry", "--out", (dir.path() / "x.jsonl").string()});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("unknown corpus \"poetry\""), std::string::npos) << unknown.err;
}

}  // namespace
}  // namespace gradients::testnet
