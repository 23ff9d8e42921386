// How every subcommand reports a failure: "gradients <command>: <message>" on stderr, exit code 1.
#pragma once

#include <ostream>
#include <string_view>

#include "common/status.h"

namespace gradients::cli {

inline int Fail(std::ostream& err, std::string_view command, const common::Status& status) {
  err << "gradients " << command << ": " << status.message() << "\n";
  return 1;
}

}  // namespace gradients::cli
