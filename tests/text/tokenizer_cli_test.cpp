// `gradients tokenize` as a function: JSON strings in, JSON id arrays out, bad lines named.
#include "cli/tokenize_command.h"

#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/temp_dir.h"

namespace gradients::text {
namespace {

using testing::TempDir;

// "a" = 0, "b" = 1, "ab" = 2, "<s>" = 3 added before every sequence.
void WriteTinyTokenizer(const std::filesystem::path& path) {
  nlohmann::json tokenizer = {
      {"added_tokens", {{{"id", 3}, {"content", "<s>"}, {"special", true}, {"normalized", false}}}},
      {"post_processor",
       {{"type", "TemplateProcessing"},
        {"single", {{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}}, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {3}}, {"tokens", {"<s>"}}}}}}}},
      {"model", {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}, {"ab", 2}}}, {"merges", {"a b"}}}}};
  std::ofstream(path) << tokenizer.dump();
}

TEST(TokenizeCommand, WritesOneIdArrayPerInputLine) {
  testing::TempDir dir;
  WriteTinyTokenizer(dir / "tokenizer.json");
  std::istringstream in("\"ab\"\n\"ba\"\n\"\"\n");
  std::ostringstream out, err;
  EXPECT_EQ(cli::RunTokenize(dir.path(), /*add_special=*/false, in, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), "[2]\n[1,0]\n[]\n");
  EXPECT_EQ(err.str(), "");
}

TEST(TokenizeCommand, AddsSpecialTokensWhenAsked) {
  testing::TempDir dir;
  WriteTinyTokenizer(dir / "tokenizer.json");
  std::istringstream in("\"aab\"\n");
  std::ostringstream out, err;
  EXPECT_EQ(cli::RunTokenize(dir / "tokenizer.json", /*add_special=*/true, in, out, err), 0) << err.str();
  EXPECT_EQ(out.str(), "[3,0,2]\n");
}

TEST(TokenizeCommand, NamesTheFirstBadLineAndFails) {
  testing::TempDir dir;
  WriteTinyTokenizer(dir / "tokenizer.json");
  for (const auto& [input, expected_err] : std::vector<std::pair<std::string, std::string>>{
           {"\"ab\"\n[1, 2]\n\"a\"\n", "line 2: expected a JSON string, got [1,2]\n"},
           {"\"ab\"\n\"a\"\nnot json\n", "line 3: invalid JSON"},
           {"\n", "line 1: invalid JSON"}}) {
    std::istringstream in(input);
    std::ostringstream out, err;
    EXPECT_EQ(cli::RunTokenize(dir.path(), false, in, out, err), 1);
    EXPECT_EQ(err.str().rfind(expected_err, 0), 0u) << err.str();
  }
}

TEST(TokenizeCommand, ReportsATokenizerThatDoesNotLoad) {
  testing::TempDir dir;
  std::istringstream in("\"ab\"\n");
  std::ostringstream out, err;
  EXPECT_EQ(cli::RunTokenize(dir.path(), false, in, out, err), 1);
  EXPECT_EQ(err.str(), dir.path().string() + ": holds neither tokenizer.json nor tokenizer.model\n");
  EXPECT_EQ(out.str(), "");
}

}  // namespace
}  // namespace gradients::text
