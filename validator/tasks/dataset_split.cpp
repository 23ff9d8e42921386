#include "validator/tasks/dataset_split.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "common/digest.h"
#include "common/strict_json.h"
#include "text/csv.h"

namespace gradients::validator {
namespace {

constexpr size_t kMaxCsvRecordBytes = size_t{16} << 20;

// The dataset's rows as text ready to be written back, and what precedes them (a CSV header).
struct Rows {
  std::string header;
  std::vector<std::string> rows;
};

common::Result<Rows> JsonlRows(std::string_view text) {
  Rows rows;
  int64_t line = 0;
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    std::string_view row = text.substr(start, end - start);
    ++line;
    start = end + 1;
    if (row.find_first_not_of(" \t\r") == std::string_view::npos) continue;
    common::Result<nlohmann::json> value = common::ParseStrictJson(row);
    if (!value.ok()) return common::Status::InvalidArgument("line " + std::to_string(line) + ": " + value.status().message());
    if (!value->is_object()) return common::Status::InvalidArgument("line " + std::to_string(line) + ": not a JSON object");
    rows.rows.emplace_back(row);
    rows.rows.back() += "\n";
  }
  return rows;
}

common::Result<Rows> CsvRows(std::string_view text) {
  Rows rows;
  text::CsvReader reader(text, kMaxCsvRecordBytes);
  std::vector<std::string> fields;
  size_t columns = 0;
  for (bool header = true;; header = false) {
    common::Result<bool> more = reader.Next(fields);
    if (!more.ok()) {
      return common::Status::InvalidArgument("line " + std::to_string(reader.record_line()) + ": " + more.status().message());
    }
    if (!*more) break;
    if (header) {
      columns = fields.size();
      text::AppendCsvRecord(fields, rows.header);
      continue;
    }
    if (fields.size() != columns) {
      return common::Status::InvalidArgument("line " + std::to_string(reader.record_line()) + ": " +
                                     std::to_string(fields.size()) + " fields where the header has " +
                                     std::to_string(columns));
    }
    rows.rows.emplace_back();
    text::AppendCsvRecord(fields, rows.rows.back());
  }
  return rows;
}

// A row's place in the seeded order: the first 8 bytes of BLAKE2b-256(seed, 0, row index).
uint64_t Rank(std::string_view seed, uint64_t index) {
  common::Hasher hasher(common::DigestAlgorithm::kBlake2b256);
  hasher.Update(seed);
  hasher.Update(std::string_view("\0", 1));
  hasher.Update(std::to_string(index));
  const common::Digest digest = hasher.Finish();
  uint64_t rank = 0;
  for (int i = 0; i < 8; ++i) rank = (rank << 8) | digest[static_cast<size_t>(i)];
  return rank;
}

common::Result<Rows> ParseRows(std::string_view text, std::string_view format) {
  if (format == "jsonl") return JsonlRows(text);
  if (format == "csv") return CsvRows(text);
  return common::Status::InvalidArgument("unknown dataset format \"" + std::string(format.substr(0, 20)) +
                                 "\" (expected jsonl or csv)");
}

}  // namespace

common::Result<std::vector<std::string>> DatasetColumns(std::string_view text, std::string_view format) {
  if (format == "csv") {
    text::CsvReader reader(text, kMaxCsvRecordBytes);
    std::vector<std::string> header;
    common::Result<bool> read = reader.Next(header);
    if (!read.ok()) return common::Status::InvalidArgument("line 1: " + read.status().message());
    if (!*read) return common::Status::InvalidArgument("no header");
    return header;
  }
  if (format != "jsonl") return ParseRows(text, format).status();
  // The first non-blank line, which must be whole in `text`.
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    std::string_view line = text.substr(start, end == std::string_view::npos ? text.size() - start : end - start);
    if (line.find_first_not_of(" \t\r") != std::string_view::npos) {
      if (end == std::string_view::npos && text.size() >= kDatasetColumnsPrefixBytes) {
        return common::Status::InvalidArgument("the first row is longer than " +
                                       std::to_string(kDatasetColumnsPrefixBytes >> 20) + " MiB");
      }
      common::Result<nlohmann::json> row = common::ParseStrictJson(line);
      if (!row.ok()) return common::Status::InvalidArgument("first row: " + row.status().message());
      if (!row->is_object()) return common::Status::InvalidArgument("first row: not a JSON object");
      std::vector<std::string> columns;
      for (const auto& [key, value] : row->items()) columns.push_back(key);
      return columns;
    }
    if (end == std::string_view::npos) break;
    start = end + 1;
  }
  return common::Status::InvalidArgument("no rows");
}

common::Result<DatasetSplit> SplitDataset(std::string_view text, std::string_view format, std::string_view seed,
                                  const SplitOptions& options) {
  if (seed.empty()) return common::Status::InvalidArgument("the split needs a seed");
  common::Result<Rows> parsed = ParseRows(text, format);
  if (!parsed.ok()) return parsed.status();
  const auto count = static_cast<int64_t>(parsed->rows.size());
  if (count < 2) {
    return common::Status::InvalidArgument(std::to_string(count) + " row(s): a dataset needs at least two to be split");
  }
  const auto wanted = static_cast<int64_t>(std::floor(options.test_fraction * static_cast<double>(count)));
  const int64_t test_rows = std::clamp<int64_t>(std::min(wanted, options.max_test_rows), 1, count - 1);

  std::vector<uint64_t> order(static_cast<size_t>(count));
  std::iota(order.begin(), order.end(), 0);
  std::vector<uint64_t> ranks(order.size());
  for (uint64_t i = 0; i < order.size(); ++i) ranks[i] = Rank(seed, i);
  std::stable_sort(order.begin(), order.end(), [&](uint64_t a, uint64_t b) { return ranks[a] < ranks[b]; });
  std::vector<bool> held_out(order.size(), false);
  for (int64_t i = 0; i < test_rows; ++i) held_out[order[static_cast<size_t>(i)]] = true;

  DatasetSplit split{.train = parsed->header, .test = parsed->header, .train_rows = count - test_rows,
                     .test_rows = test_rows};
  for (size_t i = 0; i < parsed->rows.size(); ++i) (held_out[i] ? split.test : split.train) += parsed->rows[i];
  return split;
}

}  // namespace gradients::validator
