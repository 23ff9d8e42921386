#include "text/dataset_rows.h"

#include <algorithm>
#include <cctype>

#include "common/durable_file.h"
#include "common/safetensors.h"
#include "common/strict_json.h"
#include "text/csv.h"
#include "text/dataset.h"

namespace gradients::text {
namespace {

using json = nlohmann::json;

constexpr std::string_view kUtf8ByteOrderMark = "\xEF\xBB\xBF";

common::Status RowError(const std::filesystem::path& path, int64_t row, int64_t line, const std::string& message) {
  return common::Status::InvalidArgument(path.string() + ": " + DatasetRowLocation(row, line) + ": " + message);
}

bool IsBlank(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r'; });
}

common::Result<std::vector<LocatedDatasetRow>> ParseJsonl(const std::filesystem::path& path, std::string_view text) {
  if (text.starts_with(kUtf8ByteOrderMark)) text.remove_prefix(kUtf8ByteOrderMark.size());
  std::vector<LocatedDatasetRow> rows;
  int64_t line = 0;
  for (size_t position = 0; position < text.size();) {
    size_t end = std::min(text.find('\n', position), text.size());
    std::string_view content = text.substr(position, end - position);
    position = end + 1;
    ++line;
    if (IsBlank(content)) continue;
    int64_t row = static_cast<int64_t>(rows.size()) + 1;
    if (content.size() > kMaxDatasetRowBytes) {
      return common::Status::ResourceExhausted(path.string() + ": " + DatasetRowLocation(row, line) +
                                       ": line longer than the limit of " + std::to_string(kMaxDatasetRowBytes) +
                                       " bytes");
    }
    common::Result<json> parsed = common::ParseStrictJson(content);
    if (!parsed.ok()) return RowError(path, row, line, parsed.status().message());
    if (!parsed->is_object()) return RowError(path, row, line, "expected a JSON object, got " + common::JsonSnippet(*parsed));
    rows.push_back({std::move(parsed).value(), line});
  }
  return rows;
}

common::Status CheckCsvHeader(const std::filesystem::path& path, const std::vector<std::string>& header) {
  for (size_t i = 0; i < header.size(); ++i) {
    std::string where = path.string() + ": header: column " + std::to_string(i + 1);
    if (header[i].empty()) return common::Status::InvalidArgument(where + " has no name");
    if (common::FindInvalidUtf8(header[i])) return common::Status::InvalidArgument(where + ": invalid UTF-8");
    if (std::find(header.begin(), header.begin() + static_cast<ptrdiff_t>(i), header[i]) !=
        header.begin() + static_cast<ptrdiff_t>(i)) {
      return common::Status::InvalidArgument(where + ": duplicate name " + common::JsonSnippet(header[i]));
    }
  }
  return common::Status::Ok();
}

common::Result<std::vector<LocatedDatasetRow>> ParseCsv(const std::filesystem::path& path, std::string_view text) {
  CsvReader reader(text, kMaxDatasetRowBytes);
  std::vector<std::string> header;
  common::Result<bool> has_header = reader.Next(header);
  if (!has_header.ok()) return has_header.status().WithContext(path.string() + ": header");
  if (!*has_header) {
    return common::Status::InvalidArgument(path.string() + ": no header row (a CSV dataset starts with a row of column names)");
  }
  GRADIENTS_RETURN_IF_ERROR(CheckCsvHeader(path, header));
  std::vector<LocatedDatasetRow> rows;
  std::vector<std::string> fields;
  while (true) {
    int64_t row = static_cast<int64_t>(rows.size()) + 1;
    common::Result<bool> has_record = reader.Next(fields);
    if (!has_record.ok()) {
      return has_record.status().WithContext(path.string() + ": " + DatasetRowLocation(row, reader.record_line()));
    }
    if (!*has_record) break;
    if (fields.size() != header.size()) {
      return RowError(path, row, reader.record_line(),
                      std::to_string(fields.size()) + " fields, but the header has " + std::to_string(header.size()) +
                          " columns");
    }
    json object = json::object();
    for (size_t i = 0; i < fields.size(); ++i) {
      if (common::FindInvalidUtf8(fields[i])) {
        return RowError(path, row, reader.record_line(), "column " + common::JsonSnippet(header[i]) + ": invalid UTF-8");
      }
      object[header[i]] = std::move(fields[i]);
    }
    rows.push_back({std::move(object), reader.record_line()});
  }
  return rows;
}

common::Result<std::string> DumpJson(const json& value) {
  try {
    return value.dump();
  } catch (const json::exception&) {
    // dump() throws only for strings that are not UTF-8.
    return common::Status::InvalidArgument("invalid UTF-8");
  }
}

common::Result<std::string> CsvCell(const json& value) {
  if (value.is_null()) return std::string();
  if (!value.is_string()) return DumpJson(value);
  const std::string& text = value.get_ref<const std::string&>();
  if (common::FindInvalidUtf8(text)) return common::Status::InvalidArgument("invalid UTF-8");
  return text;
}

common::Status AppendCsvRow(const json& row, const std::vector<std::string>& header, std::string& out) {
  if (row.size() != header.size()) {
    return common::Status::InvalidArgument("has " + std::to_string(row.size()) + " keys, but the first row has " +
                                   std::to_string(header.size()) + " (a CSV needs the same columns in every row)");
  }
  std::vector<std::string> cells;
  for (const std::string& column : header) {
    auto it = row.find(column);
    if (it == row.end()) {
      return common::Status::InvalidArgument("no key " + common::JsonSnippet(column) + " (a CSV needs the same columns in every row)");
    }
    common::Result<std::string> cell = CsvCell(*it);
    if (!cell.ok()) return cell.status().WithContext("key " + common::JsonSnippet(column));
    cells.push_back(std::move(cell).value());
  }
  AppendCsvRecord(cells, out);
  return common::Status::Ok();
}

common::Status AppendJsonlRow(const json& row, std::string& out) {
  GRADIENTS_ASSIGN_OR_RETURN(std::string line, DumpJson(row));
  out += line;
  out += '\n';
  return common::Status::Ok();
}

}  // namespace

std::string DatasetRowLocation(int64_t row, int64_t line) {
  std::string out = "row " + std::to_string(row);
  if (line != row) out += " (line " + std::to_string(line) + ")";
  return out;
}

common::Result<DatasetFileFormat> DatasetFileFormatOf(const std::filesystem::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (extension == ".jsonl" || extension == ".json-lines") return DatasetFileFormat::kJsonl;
  if (extension == ".csv") return DatasetFileFormat::kCsv;
  return common::Status::InvalidArgument(path.string() + ": unsupported dataset file extension \"" + extension +
                                 "\" (expected .jsonl, .json-lines or .csv)");
}

common::Result<std::vector<LocatedDatasetRow>> ReadLocatedDatasetRows(const std::filesystem::path& path) {
  GRADIENTS_ASSIGN_OR_RETURN(DatasetFileFormat format, DatasetFileFormatOf(path));
  GRADIENTS_ASSIGN_OR_RETURN(std::string text, common::ReadFileToString(path, kMaxDatasetFileBytes));
  GRADIENTS_ASSIGN_OR_RETURN(std::vector<LocatedDatasetRow> rows,
                             format == DatasetFileFormat::kCsv ? ParseCsv(path, text) : ParseJsonl(path, text));
  if (rows.empty()) return common::Status::InvalidArgument(path.string() + ": the dataset has no rows");
  return rows;
}

common::Result<std::vector<json>> ReadDatasetRows(const std::filesystem::path& path) {
  GRADIENTS_ASSIGN_OR_RETURN(std::vector<LocatedDatasetRow> located, ReadLocatedDatasetRows(path));
  std::vector<json> rows;
  rows.reserve(located.size());
  for (LocatedDatasetRow& row : located) rows.push_back(std::move(row.fields));
  return rows;
}

common::Status WriteDatasetRows(const std::filesystem::path& path, const std::vector<json>& rows, DatasetFileFormat format) {
  if (rows.empty()) return common::Status::InvalidArgument(path.string() + ": refusing to write a dataset with no rows");
  std::string out;
  std::vector<std::string> header;
  if (format == DatasetFileFormat::kCsv && rows.front().is_object()) {
    for (const auto& [key, value] : rows.front().items()) header.push_back(key);
    GRADIENTS_RETURN_IF_ERROR(CheckCsvHeader(path, header));
    AppendCsvRecord(header, out);
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    std::string row_context = path.string() + ": row " + std::to_string(i + 1);
    if (!rows[i].is_object()) {
      return common::Status::InvalidArgument(row_context + ": expected a JSON object, got " + common::JsonSnippet(rows[i]));
    }
    size_t row_start = out.size();
    common::Status appended =
        format == DatasetFileFormat::kCsv ? AppendCsvRow(rows[i], header, out) : AppendJsonlRow(rows[i], out);
    if (!appended.ok()) return appended.WithContext(row_context);
    if (out.size() - row_start > kMaxDatasetRowBytes) {
      return common::Status::ResourceExhausted(row_context + ": longer than the limit of " +
                                       std::to_string(kMaxDatasetRowBytes) + " bytes");
    }
  }
  if (out.size() > kMaxDatasetFileBytes) {
    return common::Status::ResourceExhausted(path.string() + ": " + std::to_string(out.size()) +
                                     " bytes exceeds the limit of " + std::to_string(kMaxDatasetFileBytes));
  }
  return common::WriteFileDurably(path, out);
}

}  // namespace gradients::text
