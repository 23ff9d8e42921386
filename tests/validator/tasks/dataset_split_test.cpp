#include "validator/tasks/dataset_split.h"

#include <set>

#include <gtest/gtest.h>

namespace gradients::validator {
namespace {

std::string JsonlOf(int rows) {
  std::string text;
  for (int i = 0; i < rows; ++i) text += "{\"instruction\": \"q" + std::to_string(i) + "\", \"output\": \"a\"}\n";
  return text;
}

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

TEST(DatasetSplit, HoldsOutTenPercentCappedAndAtLeastOneRow) {
  for (auto [rows, expected_test] : {std::pair{50, 5}, std::pair{5, 1}, std::pair{12000, 1000}}) {
    common::Result<DatasetSplit> split = SplitDataset(JsonlOf(rows), "jsonl", "seed");
    ASSERT_TRUE(split.ok()) << split.status().ToString();
    EXPECT_EQ(split->test_rows, expected_test) << rows;
    EXPECT_EQ(split->train_rows, rows - expected_test) << rows;
    EXPECT_EQ(static_cast<int>(Lines(split->test).size()), expected_test);
  }
}

TEST(DatasetSplit, EveryRowGoesToExactlyOneSideInItsOriginalOrder) {
  const std::string text = JsonlOf(40);
  DatasetSplit split = *SplitDataset(text, "jsonl", "seed");
  std::vector<std::string> train = Lines(split.train), test = Lines(split.test);
  EXPECT_TRUE(std::is_sorted(train.begin(), train.end(), [&](const std::string& a, const std::string& b) {
    return text.find(a) < text.find(b);
  }));
  std::set<std::string> all(train.begin(), train.end());
  all.insert(test.begin(), test.end());
  EXPECT_EQ(all.size(), 40u);
  EXPECT_EQ(train.size() + test.size(), 40u);
}

TEST(DatasetSplit, TheSeedAloneDecidesWhichRowsAreHeldOut) {
  const std::string text = JsonlOf(200);
  DatasetSplit first = *SplitDataset(text, "jsonl", "4f2a");
  DatasetSplit again = *SplitDataset(text, "jsonl", "4f2a");
  DatasetSplit other = *SplitDataset(text, "jsonl", "4f2b");
  EXPECT_EQ(first.test, again.test);
  EXPECT_EQ(first.train, again.train);
  EXPECT_NE(first.test, other.test);
  // Not simply the first or the last rows.
  EXPECT_NE(first.test, text.substr(0, first.test.size()));
  EXPECT_NE(first.test, text.substr(text.size() - first.test.size()));
}

TEST(DatasetSplit, BothCsvSplitsKeepTheHeaderAndQuotedFields) {
  std::string text = "prompt,answer\n";
  for (int i = 0; i < 20; ++i) text += "\"line one\nline " + std::to_string(i) + ", quoted\",plain\n";
  DatasetSplit split = *SplitDataset(text, "csv", "seed");
  EXPECT_EQ(split.test_rows, 2);
  EXPECT_TRUE(split.train.starts_with("prompt,answer\n"));
  EXPECT_TRUE(split.test.starts_with("prompt,answer\n"));
  EXPECT_NE(split.test.find("\"line one\nline "), std::string::npos);
}

TEST(DatasetSplit, AMalformedRowIsNamedByItsLine) {
  const std::string jsonl = JsonlOf(2) + "[1, 2]\n" + JsonlOf(1);
  common::Result<DatasetSplit> not_object = SplitDataset(jsonl, "jsonl", "seed");
  ASSERT_FALSE(not_object.ok());
  EXPECT_EQ(not_object.status().message(), "line 3: not a JSON object");
  common::Result<DatasetSplit> broken = SplitDataset(JsonlOf(2) + "{\"a\": \n", "jsonl", "seed");
  ASSERT_FALSE(broken.ok());
  EXPECT_TRUE(broken.status().message().starts_with("line 3: ")) << broken.status().message();
  common::Result<DatasetSplit> short_row = SplitDataset("a,b\n1,2\n3\n4,5\n", "csv", "seed");
  ASSERT_FALSE(short_row.ok());
  EXPECT_EQ(short_row.status().message(), "line 3: 1 fields where the header has 2");
}

TEST(DatasetSplit, RefusesWhatCannotBeSplit) {
  EXPECT_FALSE(SplitDataset(JsonlOf(1), "jsonl", "seed").ok());
  EXPECT_FALSE(SplitDataset("\n\n", "jsonl", "seed").ok());
  EXPECT_FALSE(SplitDataset(JsonlOf(10), "parquet", "seed").ok());
  EXPECT_FALSE(SplitDataset(JsonlOf(10), "jsonl", "").ok());
}

}  // namespace
}  // namespace gradients::validator
