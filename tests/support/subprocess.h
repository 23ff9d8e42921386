// Runs a real program and captures its exit code, stdout and stderr; for tests of binaries.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace gradients::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when the process did not exit normally
  std::string out;
  std::string err;
};

ProcessResult RunProcess(const std::vector<std::string>& argv);

// The absolute path of `name` on PATH, or empty.
std::filesystem::path FindExecutable(const std::string& name);

}  // namespace gradients::testing
