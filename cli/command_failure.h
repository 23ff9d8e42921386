// How every subcommand reports a failure: "gradients <command>: <message>" on stderr, exit code 1;
// and how its CLI11 callback hands its exit code to main().
#pragma once

#include <CLI/CLI.hpp>
#include <ostream>
#include <string_view>

#include "common/status.h"

namespace gradients::cli {

inline int Fail(std::ostream& err, std::string_view command, const common::Status& status) {
  err << "gradients " << command << ": " << status.message() << "\n";
  return 1;
}

// Ends a subcommand's callback with its exit code: CLI11 returns a RuntimeError's code from the
// parse (CLI11_PARSE) without printing anything, and a callback that returns leaves it 0.
inline void ExitWith(int exit_code) {
  if (exit_code != 0) throw CLI::RuntimeError(exit_code);
}

}  // namespace gradients::cli
