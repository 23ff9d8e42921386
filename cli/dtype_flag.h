// The --dtype flag shared by the model commands (eval, init-model, merge).
#pragma once

#include <string>

#include <c10/core/ScalarType.h>

#include "common/status.h"

namespace gradients::cli {

// "float32" or "bfloat16"; anything else is an InvalidArgument naming the flag and the value.
inline common::Result<at::ScalarType> ParseDtype(const std::string& dtype) {
  if (dtype == "float32") return at::kFloat;
  if (dtype == "bfloat16") return at::kBFloat16;
  return common::Status::InvalidArgument("--dtype must be float32 or bfloat16, got \"" + dtype.substr(0, 20) + "\"");
}

}  // namespace gradients::cli
