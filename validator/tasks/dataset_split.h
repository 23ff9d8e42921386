// Splitting a task's dataset with the task's secret seed (DESIGN.md, Task): a hidden test split that
// never leaves the validator, and the training split miners fetch. Which rows are held out depends
// only on the seed and the rows' positions, so the split is the same on every machine and after a
// restart, and cannot be guessed without the seed.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace gradients::validator {

struct SplitOptions {
  double test_fraction = 0.10;   // of the rows, rounded down...
  int64_t max_test_rows = 1000;  // ...and capped; at least one row either way
};

struct DatasetSplit {
  std::string train;  // in the dataset's format (CSV: with its header), rows in their original order
  std::string test;
  int64_t train_rows = 0;
  int64_t test_rows = 0;
};

// `format` is "jsonl" (one JSON object per non-blank line) or "csv" (a header record, then rows).
// A malformed row is an error naming its line; fewer than two rows cannot be split.
common::Result<DatasetSplit> SplitDataset(std::string_view text, std::string_view format, std::string_view seed,
                                  const SplitOptions& options = {});

// How much of the start of a dataset DatasetColumns needs: its first record must fit.
inline constexpr uint64_t kDatasetColumnsPrefixBytes = uint64_t{1} << 20;

// The columns a dataset offers: a CSV file's header, or the keys of a JSONL file's first row.
// `text` may be only the start of the file, up to kDatasetColumnsPrefixBytes.
common::Result<std::vector<std::string>> DatasetColumns(std::string_view text, std::string_view format);

}  // namespace gradients::validator
