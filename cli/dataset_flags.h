// The dataset flags shared by the commands that read a dataset file (eval, train).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "trainers/dataset.h"

namespace gradients::cli {

// --format, --columns, --field (text only: the column holding the text) and the row length.
inline Result<DatasetOptions> DatasetOptionsFromFlags(const std::string& format, const std::string& columns,
                                                      const std::string& field, int64_t max_length) {
  DatasetOptions options;
  GRADIENTS_ASSIGN_OR_RETURN(options.format, ParseDatasetFormat(format));
  GRADIENTS_ASSIGN_OR_RETURN(options.columns, ParseColumnMapping(columns, options.format));
  if (!field.empty()) {
    if (options.format != DatasetFormat::kText) return Status::InvalidArgument("--field applies to --format text only");
    options.columns.columns["text"] = field;
  }
  options.max_length = max_length;
  GRADIENTS_RETURN_IF_ERROR(ValidateDatasetOptions(options));
  return options;
}

}  // namespace gradients::cli
