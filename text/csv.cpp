#include "text/csv.h"

namespace gradients::text {
namespace {

constexpr std::string_view kUtf8ByteOrderMark = "\xEF\xBB\xBF";

}  // namespace

CsvReader::CsvReader(std::string_view text, size_t max_record_bytes)
    : text_(text), max_record_bytes_(max_record_bytes) {
  if (text_.starts_with(kUtf8ByteOrderMark)) text_.remove_prefix(kUtf8ByteOrderMark.size());
}

bool CsvReader::AtLineBreak() const {
  return text_[position_] == '\n' ||
         (text_[position_] == '\r' && position_ + 1 < text_.size() && text_[position_ + 1] == '\n');
}

void CsvReader::SkipLineBreak() {
  position_ += text_[position_] == '\r' ? 2 : 1;
  ++line_;
}

common::Status CsvReader::CheckRecordSize() const {
  if (position_ - record_start_ <= max_record_bytes_) return common::Status::Ok();
  return common::Status::ResourceExhausted("record longer than the limit of " + std::to_string(max_record_bytes_) + " bytes");
}

common::Result<bool> CsvReader::Next(std::vector<std::string>& fields) {
  fields.clear();
  while (position_ < text_.size() && AtLineBreak()) SkipLineBreak();
  if (position_ >= text_.size()) return false;
  record_start_ = position_;
  record_line_ = line_;
  while (true) {
    std::string field;
    if (text_[position_] == '"') {
      GRADIENTS_RETURN_IF_ERROR(ReadQuotedField(field, fields.size() + 1));
    } else {
      GRADIENTS_RETURN_IF_ERROR(ReadUnquotedField(field));
    }
    fields.push_back(std::move(field));
    if (position_ >= text_.size()) return true;
    if (AtLineBreak()) {
      SkipLineBreak();
      return true;
    }
    ++position_;  // the comma; the field readers stop only at a comma, a line break or the end
    if (position_ >= text_.size()) {
      fields.emplace_back();  // "a,b," ends with an empty field
      return true;
    }
  }
}

common::Status CsvReader::ReadQuotedField(std::string& field, size_t field_number) {
  ++position_;
  while (true) {
    if (position_ >= text_.size()) {
      return common::Status::InvalidArgument("column " + std::to_string(field_number) + ": unterminated quoted field");
    }
    char c = text_[position_];
    if (c == '"') {
      if (position_ + 1 < text_.size() && text_[position_ + 1] == '"') {
        field += '"';
        position_ += 2;
        continue;
      }
      ++position_;
      break;
    }
    if (c == '\n') ++line_;
    field += c;
    ++position_;
    // Checked inside the loop: an unterminated quote would otherwise swallow the rest of the file.
    GRADIENTS_RETURN_IF_ERROR(CheckRecordSize());
  }
  GRADIENTS_RETURN_IF_ERROR(CheckRecordSize());
  if (position_ < text_.size() && text_[position_] != ',' && !AtLineBreak()) {
    std::string shown = text_[position_] == '\r' ? "\\r" : std::string(1, text_[position_]);
    return common::Status::InvalidArgument("column " + std::to_string(field_number) + ": unexpected '" + shown +
                                   "' after the closing quote (a quote inside a quoted field is written \"\")");
  }
  return common::Status::Ok();
}

common::Status CsvReader::ReadUnquotedField(std::string& field) {
  size_t start = position_;
  while (position_ < text_.size() && text_[position_] != ',' && !AtLineBreak()) ++position_;
  GRADIENTS_RETURN_IF_ERROR(CheckRecordSize());
  field.assign(text_.substr(start, position_ - start));
  return common::Status::Ok();
}

void AppendCsvRecord(const std::vector<std::string>& fields, std::string& out) {
  for (size_t i = 0; i < fields.size(); ++i) {
    if (i > 0) out += ',';
    const std::string& field = fields[i];
    // A leading byte order mark is quoted: at the start of a file the reader would drop it.
    if (!field.empty() && !field.starts_with("\xEF\xBB\xBF") && field.find_first_of(",\"\r\n") == std::string::npos) {
      out += field;
      continue;
    }
    out += '"';
    for (char c : field) {
      if (c == '"') out += '"';
      out += c;
    }
    out += '"';
  }
  out += '\n';
}

}  // namespace gradients::text
