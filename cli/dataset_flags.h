// The dataset flags shared by the commands that read a dataset file (eval, train).
#pragma once

#include <cstdint>
#include <string>

#include "common/status.h"
#include "text/dataset.h"

namespace gradients::cli {

// --format, --columns, --field (text only: the column holding the text) and the row length.
inline common::Result<text::DatasetOptions> DatasetOptionsFromFlags(const std::string& format, const std::string& columns,
                                                      const std::string& field, int64_t max_length) {
  text::DatasetOptions options;
  GRADIENTS_ASSIGN_OR_RETURN(options.format, text::ParseDatasetFormat(format));
  GRADIENTS_ASSIGN_OR_RETURN(options.columns, text::ParseColumnMapping(columns, options.format));
  if (!field.empty()) {
    if (options.format != text::DatasetFormat::kText) return common::Status::InvalidArgument("--field applies to --format text only");
    options.columns.columns["text"] = field;
  }
  options.max_length = max_length;
  GRADIENTS_RETURN_IF_ERROR(text::ValidateDatasetOptions(options));
  return options;
}

}  // namespace gradients::cli
