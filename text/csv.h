// RFC 4180 CSV: reading records one at a time and writing them back.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gradients::text {

// Splits CSV text into records of fields, as RFC 4180 describes: fields separated by commas,
// records by CRLF or LF, fields optionally enclosed in double quotes, inside which commas, line
// breaks and doubled quotes ("" for ") stand for themselves. Two liberties common readers
// (Python's csv, pandas) also take: a quote inside an unquoted field is kept as it is, and empty
// lines hold no record (a record of one empty field is written `""`). A UTF-8 byte order mark at
// the start is skipped. Bytes are not decoded; the caller checks UTF-8.
// Does not own `text`; not thread-safe.
class CsvReader {
 public:
  // A record spanning more than `max_record_bytes` of text is an error rather than read on.
  CsvReader(std::string_view text, size_t max_record_bytes);

  // Reads the next record into `fields`; false at the end of the text. Error messages say what is
  // wrong ("column 2: unterminated quoted field"); record_line() says where.
  common::Result<bool> Next(std::vector<std::string>& fields);

  // The 1-based line on which the record last read (or failed) starts.
  int64_t record_line() const { return record_line_; }

 private:
  bool AtLineBreak() const;
  void SkipLineBreak();
  common::Status ReadQuotedField(std::string& field, size_t field_number);
  common::Status ReadUnquotedField(std::string& field);
  common::Status CheckRecordSize() const;

  std::string_view text_;
  size_t max_record_bytes_;
  size_t position_ = 0;
  int64_t line_ = 1;  // the line position_ is on
  size_t record_start_ = 0;
  int64_t record_line_ = 0;
};

// Appends `fields` to `out` as one record ending in "\n". Fields holding a comma, a quote, a
// line break, or nothing at all are quoted, so that every record reads back as written.
void AppendCsvRecord(const std::vector<std::string>& fields, std::string& out);

}  // namespace gradients::text
