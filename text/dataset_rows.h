// Reading dataset files with each row's position, for the error messages of the dataset code
// (text/dataset.h has the public functions).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace gradients::text {

struct LocatedDatasetRow {
  nlohmann::json fields;  // a JSON object
  int64_t line = 0;       // the 1-based line the row starts on
};

// As ReadDatasetRows, keeping each row's line.
common::Result<std::vector<LocatedDatasetRow>> ReadLocatedDatasetRows(const std::filesystem::path& path);

// "row 3", or "row 3 (line 4)" when the row starts on another line.
std::string DatasetRowLocation(int64_t row, int64_t line);

}  // namespace gradients::text
