// Reading, writing and tokenizing dataset files (text/dataset.h).
#include <gtest/gtest.h>

#include "common/durable_file.h"
#include "common/strict_json.h"
#include "tests/support/byte_tokenizer.h"
#include "tests/support/temp_dir.h"
#include "text/dataset.h"

namespace gradients::text {
namespace {

using json = nlohmann::json;
using testing::ByteTokenizer;
using testing::TempDir;

const std::filesystem::path kDatasets = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "datasets";

std::filesystem::path WriteFile(const testing::TempDir& dir, const std::string& name, std::string_view text) {
  std::filesystem::path path = dir / name;
  EXPECT_TRUE(common::WriteFileDurably(path, text).ok());
  return path;
}

std::vector<json> ReadRows(const std::filesystem::path& path) {
  common::Result<std::vector<json>> rows = ReadDatasetRows(path);
  EXPECT_TRUE(rows.ok()) << rows.status().ToString();
  return rows.ok() ? *rows : std::vector<json>{};
}

std::string ReadError(const std::filesystem::path& path) {
  common::Result<std::vector<json>> rows = ReadDatasetRows(path);
  EXPECT_FALSE(rows.ok());
  return rows.status().message();
}

TEST(DatasetFileFormat, FollowsTheExtensionCaseInsensitively) {
  EXPECT_EQ(*DatasetFileFormatOf("a/train.jsonl"), DatasetFileFormat::kJsonl);
  EXPECT_EQ(*DatasetFileFormatOf("train.json-lines"), DatasetFileFormat::kJsonl);
  EXPECT_EQ(*DatasetFileFormatOf("TRAIN.CSV"), DatasetFileFormat::kCsv);
  EXPECT_EQ(DatasetFileFormatOf("train.parquet").status().message(),
            "train.parquet: unsupported dataset file extension \".parquet\" (expected .jsonl, .json-lines or .csv)");
}

TEST(JsonlDataset, ReadsOneObjectPerLineSkippingBlankLines) {
  std::vector<json> rows = ReadRows(kDatasets / "text.jsonl");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0], (json{{"text", "Hello"}}));
  EXPECT_EQ(rows[1], (json{{"text", "\u00e9t\u00e9"}}));
}

TEST(JsonlDataset, ToleratesAByteOrderMarkCrlfAndAMissingFinalNewline) {
  testing::TempDir dir;
  std::vector<json> rows = ReadRows(WriteFile(dir, "a.jsonl", "\xEF\xBB\xBF{\"a\": 1}\r\n \t\r\n{\"a\": 2}"));
  EXPECT_EQ(rows, (std::vector<json>{{{"a", 1}}, {{"a", 2}}}));
}

TEST(JsonlDataset, NamesTheRowOfInvalidJsonAndItsLineWhenTheyDiffer) {
  testing::TempDir dir;
  std::filesystem::path path = WriteFile(dir, "train.jsonl", "{\"a\": 1}\n{\"a\": \n");
  EXPECT_EQ(ReadError(path), path.string() + ": row 2: " + common::ParseStrictJson("{\"a\": ").status().message());
  path = WriteFile(dir, "train.jsonl", "{\"a\": 1}\n\n{\"a\": 1, \"a\": 2}\n");
  EXPECT_EQ(ReadError(path), path.string() + ": row 2 (line 3): duplicate key \"a\"");
}

TEST(JsonlDataset, RejectsALineThatIsNotAnObject) {
  testing::TempDir dir;
  std::filesystem::path path = WriteFile(dir, "train.jsonl", "{\"a\": 1}\n[1, 2]\n");
  EXPECT_EQ(ReadError(path), path.string() + ": row 2: expected a JSON object, got [1,2]");
}

TEST(JsonlDataset, RejectsAFileWithoutRows) {
  testing::TempDir dir;
  std::filesystem::path path = WriteFile(dir, "train.jsonl", "\n  \n");
  EXPECT_EQ(ReadError(path), path.string() + ": the dataset has no rows");
}

TEST(JsonlDataset, RefusesALineAboveTheRowLimit) {
  testing::TempDir dir;
  std::string line = "{\"text\": \"" + std::string(kMaxDatasetRowBytes, 'x') + "\"}\n";
  std::filesystem::path path = WriteFile(dir, "big.jsonl", "{}\n" + line);
  common::Result<std::vector<json>> rows = ReadDatasetRows(path);
  EXPECT_EQ(rows.status().code(), common::StatusCode::kResourceExhausted);
  EXPECT_EQ(rows.status().message(), path.string() + ": row 2: line longer than the limit of 67108864 bytes");
}

TEST(DatasetFiles, NamesAMissingFile) {
  EXPECT_EQ(ReadDatasetRows("/nonexistent/train.csv").status().code(), common::StatusCode::kNotFound);
}

TEST(CsvDataset, ReadsRowsAsObjectsOfStringCells) {
  std::vector<json> rows = ReadRows(kDatasets / "text_quoted.csv");
  EXPECT_EQ(rows, (std::vector<json>{{{"text", "a, quoted \"text\""}, {"label", "1"}},
                                     {{"text", "two\nlines"}, {"label", "2"}}}));
}

TEST(CsvDataset, ReadsAByteOrderMarkCrlfAndMultiLineCells) {
  std::vector<json> rows = ReadRows(kDatasets / "chat.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["id"], "1");
  EXPECT_EQ(rows[0]["conversation"],
            "[{\"role\": \"user\", \"content\": \"Hi\"},\r\n {\"role\": \"assistant\", \"content\": \"Hello, you\"}]");
}

TEST(CsvDataset, RejectsARaggedRowNamingRowAndLine) {
  std::filesystem::path path = kDatasets / "ragged.csv";
  EXPECT_EQ(ReadError(path), path.string() + ": row 2 (line 3): 3 fields, but the header has 2 columns");
}

TEST(CsvDataset, RequiresAHeaderOfDistinctNamedColumns) {
  testing::TempDir dir;
  std::filesystem::path path = WriteFile(dir, "a.csv", "\xEF\xBB\xBF\r\n");
  EXPECT_EQ(ReadError(path), path.string() + ": no header row (a CSV dataset starts with a row of column names)");
  path = WriteFile(dir, "a.csv", ",text\n0,hello\n");
  EXPECT_EQ(ReadError(path), path.string() + ": header: column 1 has no name");
  path = WriteFile(dir, "a.csv", "text,text\nhello,world\n");
  EXPECT_EQ(ReadError(path), path.string() + ": header: column 2: duplicate name \"text\"");
  path = WriteFile(dir, "a.csv", "\"text\n");
  EXPECT_EQ(ReadError(path), path.string() + ": header: column 1: unterminated quoted field");
}

TEST(CsvDataset, RejectsAHeaderWithoutRows) {
  testing::TempDir dir;
  std::filesystem::path path = WriteFile(dir, "a.csv", "text\n");
  EXPECT_EQ(ReadError(path), path.string() + ": the dataset has no rows");
}

TEST(CsvDataset, NamesTheRowOfMalformedQuotingAndInvalidUtf8) {
  testing::TempDir dir;
  std::filesystem::path path = WriteFile(dir, "a.csv", "a,b\n1,2\n3,\"4\"x\n");
  EXPECT_EQ(ReadError(path), path.string() +
                                 ": row 2 (line 3): column 2: unexpected 'x' after the closing quote (a quote inside a "
                                 "quoted field is written \"\")");
  path = WriteFile(dir, "a.csv", "a,b\n1,\"2\n\n3,4\n");
  EXPECT_EQ(ReadError(path), path.string() + ": row 1 (line 2): column 2: unterminated quoted field");
  path = WriteFile(dir, "a.csv", "a,b\n1,\xC3\x28\n");
  EXPECT_EQ(ReadError(path), path.string() + ": row 1 (line 2): column \"b\": invalid UTF-8");
}

TEST(DatasetLoad, TokenizesEveryRowOfAMappedInstructFile) {
  DatasetOptions options;
  options.format = DatasetFormat::kInstruct;
  options.columns = *ParseColumnMapping("instruction=question,input=context,output=answer,system=persona",
                                        DatasetFormat::kInstruct);
  common::Result<std::vector<TokenizedExample>> examples =
      LoadTokenizedDataset(kDatasets / "instruct_mapped.jsonl", testing::ByteTokenizer(), options);
  ASSERT_TRUE(examples.ok()) << examples.status().ToString();
  ASSERT_EQ(examples->size(), 2u);
  std::string prompt = "You translate French.\n\n### Instruction:\nTranslate.\n\n### Input:\nchat\n\n### Response:\n";
  std::vector<int32_t> expected = {testing::ByteTokenizer::kBosId};
  for (int32_t id : testing::ByteTokenizer::Bytes(prompt + "cat")) expected.push_back(id);
  expected.push_back(testing::ByteTokenizer::kEosId);
  EXPECT_EQ((*examples)[1].input_ids, expected);
  size_t trained = 0;
  for (int32_t label : (*examples)[1].labels) trained += label != kIgnoredLabel;
  EXPECT_EQ(trained, 4u);  // "cat" and EOS
}

TEST(DatasetLoad, ErrorsNameFileRowFieldAndColumn) {
  DatasetOptions options;
  options.format = DatasetFormat::kInstruct;
  options.columns = *ParseColumnMapping("instruction=question,output=answer", DatasetFormat::kInstruct);
  std::filesystem::path path = kDatasets / "instruct_bad_output.jsonl";
  EXPECT_EQ(LoadTokenizedDataset(path, testing::ByteTokenizer(), options).status().message(),
            path.string() + ": row 3: field \"output\" (column \"answer\"): expected a string, got 5");
  options.format = DatasetFormat::kChat;
  options.columns = {};
  path = kDatasets / "chat_unknown_role.jsonl";
  EXPECT_EQ(LoadTokenizedDataset(path, testing::ByteTokenizer(), options).status().message(),
            path.string() +
                ": row 2: field \"messages\": message 2: unknown role \"bot\" (allowed: system, user, assistant)");
}

TEST(DatasetLoad, ChatFromCsvMatchesTheSameConversationFromJsonl) {
  testing::ByteTokenizer tokenizer({.chatml_tokens = true});
  DatasetOptions options;
  options.format = DatasetFormat::kChat;
  options.columns.columns["messages"] = "conversation";
  common::Result<std::vector<TokenizedExample>> from_csv = LoadTokenizedDataset(kDatasets / "chat.csv", tokenizer, options);
  ASSERT_TRUE(from_csv.ok()) << from_csv.status().ToString();
  json row = {{"conversation",
               json::parse(R"([{"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Bye!"}])")}};
  common::Result<TokenizedExample> direct = TokenizeRow(row, tokenizer, options);
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ((*from_csv)[1].input_ids, direct->input_ids);
  EXPECT_EQ((*from_csv)[1].labels, direct->labels);
}

TEST(DatasetLoad, ReportsInvalidOptionsBeforeReadingTheFile) {
  DatasetOptions options;
  options.max_length = -1;
  EXPECT_EQ(LoadTokenizedDataset("/nonexistent.jsonl", testing::ByteTokenizer(), options).status().message(),
            "max_length must be positive, got -1");
}

TEST(DatasetWrite, JsonlRoundTripsRowsExactly) {
  testing::TempDir dir;
  std::vector<json> rows = {{{"text", "a\nb \"q\" \u00e9"}, {"n", 1}},
                            {{"messages", {{{"role", "user"}, {"content", "hi"}}}}, {"extra", nullptr}}};
  std::filesystem::path path = dir / "out.jsonl";
  ASSERT_TRUE(WriteDatasetRows(path, rows, DatasetFileFormat::kJsonl).ok());
  EXPECT_EQ(ReadRows(path), rows);
}

TEST(DatasetWrite, CsvRoundTripsStringRowsExactly) {
  testing::TempDir dir;
  std::vector<json> rows = {{{"text", "comma, \"quote\"\r\nnewline"}, {"empty", ""}, {"id", "1"}},
                            {{"text", " spaced "}, {"empty", ""}, {"id", "2"}}};
  std::filesystem::path path = dir / "out.csv";
  ASSERT_TRUE(WriteDatasetRows(path, rows, DatasetFileFormat::kCsv).ok());
  EXPECT_EQ(ReadRows(path), rows);
}

TEST(DatasetWrite, CsvRoundTripsASingleColumnOfEmptyCells) {
  testing::TempDir dir;
  std::vector<json> rows = {{{"text", ""}}, {{"text", ""}}};
  std::filesystem::path path = dir / "out.csv";
  ASSERT_TRUE(WriteDatasetRows(path, rows, DatasetFileFormat::kCsv).ok());
  EXPECT_EQ(ReadRows(path), rows);
}

TEST(DatasetWrite, CsvReadBackFromACsvSplitIsTheSameFile) {
  testing::TempDir dir;
  std::vector<json> rows = ReadRows(kDatasets / "chat.csv");
  std::filesystem::path first = dir / "first.csv";
  std::filesystem::path second = dir / "second.csv";
  ASSERT_TRUE(WriteDatasetRows(first, rows, DatasetFileFormat::kCsv).ok());
  ASSERT_TRUE(WriteDatasetRows(second, ReadRows(first), DatasetFileFormat::kCsv).ok());
  EXPECT_EQ(ReadRows(second), rows);
  EXPECT_EQ(*common::ReadFileToString(first, 1 << 20), *common::ReadFileToString(second, 1 << 20));
}

TEST(DatasetWrite, CsvWritesNonStringValuesAsJsonThatChatStillTokenizes) {
  testing::TempDir dir;
  testing::ByteTokenizer tokenizer({.chatml_tokens = true});
  DatasetOptions options;
  options.format = DatasetFormat::kChat;
  std::vector<json> rows = {
      {{"messages", {{{"role", "user"}, {"content", "a,\"b\""}}, {{"role", "assistant"}, {"content", "c"}}}},
       {"score", 1.5},
       {"note", nullptr}}};
  std::filesystem::path path = dir / "chat.csv";
  ASSERT_TRUE(WriteDatasetRows(path, rows, DatasetFileFormat::kCsv).ok());
  std::vector<json> read = ReadRows(path);
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0]["score"], "1.5");
  EXPECT_EQ(read[0]["note"], "");
  common::Result<std::vector<TokenizedExample>> examples = LoadTokenizedDataset(path, tokenizer, options);
  ASSERT_TRUE(examples.ok()) << examples.status().ToString();
  EXPECT_EQ((*examples)[0].input_ids, TokenizeRow(rows[0], tokenizer, options)->input_ids);
}

TEST(DatasetWrite, RefusesWhatCouldNotBeReadBack) {
  testing::TempDir dir;
  std::filesystem::path path = dir / "out.csv";
  EXPECT_EQ(WriteDatasetRows(path, {}, DatasetFileFormat::kCsv).message(),
            path.string() + ": refusing to write a dataset with no rows");
  EXPECT_EQ(WriteDatasetRows(path, {{{"a", "1"}}, {{"b", "2"}}}, DatasetFileFormat::kCsv).message(),
            path.string() + ": row 2: no key \"a\" (a CSV needs the same columns in every row)");
  EXPECT_EQ(WriteDatasetRows(path, {{{"a", "1"}}, {{"a", "1"}, {"b", "2"}}}, DatasetFileFormat::kCsv).message(),
            path.string() + ": row 2: has 2 keys, but the first row has 1 (a CSV needs the same columns in every row)");
  EXPECT_EQ(WriteDatasetRows(path, {{{"a", "1"}}, json::array()}, DatasetFileFormat::kJsonl).message(),
            path.string() + ": row 2: expected a JSON object, got []");
  EXPECT_EQ(WriteDatasetRows(path, {{{"a", "\xC3\x28"}}}, DatasetFileFormat::kCsv).message(),
            path.string() + ": row 1: key \"a\": invalid UTF-8");
  EXPECT_EQ(WriteDatasetRows(path, {{{"a", "\xC3\x28"}}}, DatasetFileFormat::kJsonl).message(),
            path.string() + ": row 1: invalid UTF-8");
  EXPECT_EQ(WriteDatasetRows(path, {{{"", "1"}}}, DatasetFileFormat::kCsv).message(),
            path.string() + ": header: column 1 has no name");
  EXPECT_FALSE(std::filesystem::exists(path));
}

}  // namespace
}  // namespace gradients::text
