// The RFC 4180 reader and writer under CSV datasets (text/csv.h).
#include "text/csv.h"

#include <gtest/gtest.h>

namespace gradients::text {
namespace {

using Records = std::vector<std::vector<std::string>>;

constexpr size_t kNoLimit = size_t{1} << 30;

Records ReadAll(std::string_view text, std::vector<int64_t>* lines = nullptr) {
  CsvReader reader(text, kNoLimit);
  Records records;
  std::vector<std::string> fields;
  while (true) {
    common::Result<bool> more = reader.Next(fields);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) return records;
    records.push_back(fields);
    if (lines != nullptr) lines->push_back(reader.record_line());
  }
}

// The first error and the line of the record it is in.
std::string FirstError(std::string_view text, size_t max_record_bytes = kNoLimit) {
  CsvReader reader(text, max_record_bytes);
  std::vector<std::string> fields;
  while (true) {
    common::Result<bool> more = reader.Next(fields);
    if (!more.ok()) return "line " + std::to_string(reader.record_line()) + ": " + more.status().message();
    if (!*more) return "no error";
  }
}

TEST(CsvReader, SplitsFieldsAndRecords) {
  EXPECT_EQ(ReadAll("a,b\n1,2\n"), (Records{{"a", "b"}, {"1", "2"}}));
  EXPECT_EQ(ReadAll("a,b\r\n1,2"), (Records{{"a", "b"}, {"1", "2"}}));
}

TEST(CsvReader, QuotedFieldsHoldCommasLineBreaksAndDoubledQuotes) {
  EXPECT_EQ(ReadAll("\"a,b\",\"say \"\"hi\"\"\",\"x\r\ny\nz\"\n"), (Records{{"a,b", "say \"hi\"", "x\r\ny\nz"}}));
}

TEST(CsvReader, KeepsEmptyFieldsAndATrailingEmptyField) {
  EXPECT_EQ(ReadAll(",\"\",x,\n"), (Records{{"", "", "x", ""}}));
  EXPECT_EQ(ReadAll("a,"), (Records{{"a", ""}}));
  EXPECT_EQ(ReadAll("\"\"\n"), (Records{{""}}));
}

TEST(CsvReader, SkipsEmptyLinesAndAByteOrderMark) {
  EXPECT_EQ(ReadAll("\xEF\xBB\xBF" "a\n\r\n\nb\n\n"), (Records{{"a"}, {"b"}}));
  EXPECT_EQ(ReadAll(""), Records{});
}

TEST(CsvReader, KeepsAQuoteInsideAnUnquotedFieldAsItIs) {
  EXPECT_EQ(ReadAll("5\" screen,a\"b\n"), (Records{{"5\" screen", "a\"b"}}));
  EXPECT_EQ(ReadAll(" \"a\" ,b\n"), (Records{{" \"a\" ", "b"}}));
}

TEST(CsvReader, KeepsABareCarriageReturnInsideAField) {
  EXPECT_EQ(ReadAll("a\rb,c\n"), (Records{{"a\rb", "c"}}));
}

TEST(CsvReader, ReportsTheLineEachRecordStartsOn) {
  std::vector<int64_t> lines;
  ReadAll("h\n\"two\nlines\"\n\nnext\r\nlast", &lines);
  EXPECT_EQ(lines, (std::vector<int64_t>{1, 2, 5, 6}));
}

TEST(CsvReader, RejectsAnUnterminatedQuotedField) {
  EXPECT_EQ(FirstError("a,b\n1,\"2\n3,4\n"), "line 2: column 2: unterminated quoted field");
}

TEST(CsvReader, RejectsTextAfterAClosingQuote) {
  EXPECT_EQ(FirstError("\"a\"b,c\n"),
            "line 1: column 1: unexpected 'b' after the closing quote (a quote inside a quoted field is written \"\")");
  EXPECT_EQ(
      FirstError("x,\"a\"\r"),
      "line 1: column 2: unexpected '\\r' after the closing quote (a quote inside a quoted field is written \"\")");
}

TEST(CsvReader, RefusesARecordAboveTheLimit) {
  EXPECT_EQ(FirstError("abc,de\nabcdefgh\n", 7), "line 2: record longer than the limit of 7 bytes");
  EXPECT_EQ(FirstError("ab\n\"abcdefgh", 7), "line 2: record longer than the limit of 7 bytes");
  EXPECT_EQ(FirstError("abc,de\n", 6), "no error");
}

std::string Written(const std::vector<std::string>& fields) {
  std::string out;
  AppendCsvRecord(fields, out);
  return out;
}

TEST(CsvWriter, QuotesOnlyFieldsThatNeedIt) {
  EXPECT_EQ(Written({"a", "b c", "5\" x", "d,e", "f\ng", ""}), "a,b c,\"5\"\" x\",\"d,e\",\"f\ng\",\"\"\n");
}

TEST(CsvWriter, EveryRecordReadsBackAsWritten) {
  Records records = {{"plain", "", "\"", ",", "\r\n", "\r", " lead", "\xEF\xBB\xBFnot a BOM"},
                     {""},
                     {"a\"\"b", "x\ny", "", ""}};
  std::string text;
  for (const auto& record : records) AppendCsvRecord(record, text);
  Records read = ReadAll(text);
  // A byte order mark at the very start is the one thing a reader skips; it is in the middle here.
  EXPECT_EQ(read, records);
}

}  // namespace
}  // namespace gradients::text
