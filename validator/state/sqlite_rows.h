// Row readers shared by the SqliteStore's files (validator/state/sqlite_*_store.cpp): internal to
// the SQLite store, included by nothing else.
#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "common/status.h"
#include "validator/state/sqlite_db.h"
#include "validator/state/task_store.h"

namespace gradients::validator {

constexpr std::string_view kTaskColumns =
    "id, type, model_hash, dataset_hash, columns_json, duration_s, pool_size, split_seed, status, failure_reason, "
    "created_at_ms, deadline_ms, updated_at_ms, train_blob, test_blob, train_rows, test_rows, min_pool_size, "
    "max_training_tokens, COALESCE(request_id, ''), request_fingerprint, train_bytes, offer_closes_at_ms, offer_rounds, scored_at_ms";

// The columns of a SELECT list (commas inside parentheses do not count).
constexpr int CountColumns(std::string_view columns) {
  int count = 1, depth = 0;
  for (char c : columns) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) ++count;
  }
  return count;
}
// A statement's columns after kTaskColumns are numbered from here.
constexpr int kTaskColumnCount = CountColumns(kTaskColumns);

// A task row of kTaskColumns; DataLoss for a status that does not parse.
common::Result<TaskRecord> ReadTask(const SqliteStatement& row);

// A list of numbers or hashes as one text column: "a,b,c".
template <typename T>
std::string JoinList(const std::vector<T>& values) {
  std::string out;
  for (const T& value : values) {
    if (!out.empty()) out += ',';
    if constexpr (std::is_same_v<T, std::string>) {
      out += value;
    } else {
      out += std::to_string(value);
    }
  }
  return out;
}

inline std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  if (text.empty()) return out;
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    out.push_back(text.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return out;
    start = comma + 1;
  }
}

// Collects every row of `statement` through `read`.
template <typename T, typename Read>
common::Result<std::vector<T>> ReadAll(SqliteStatement& statement, Read read) {
  std::vector<T> rows;
  for (;;) {
    common::Result<bool> row = statement.Step();
    if (!row.ok()) return row.status();
    if (!*row) return rows;
    common::Result<T> value = read(statement);
    if (!value.ok()) return value.status();
    rows.push_back(std::move(*value));
  }
}

}  // namespace gradients::validator
