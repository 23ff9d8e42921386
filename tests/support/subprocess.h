// Runs a real program and captures its exit code, stdout and stderr; for tests of binaries.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace gradients::testing {

struct ProcessResult {
  int exit_code = -1;  // -1 when the process did not exit normally
  std::string out;
  std::string err;
};

ProcessResult RunProcess(const std::vector<std::string>& argv);

// A program left running (a daemon) while the test talks to it; its stdout and stderr go to
// `log`. Destroying it kills the process if it is still running.
class BackgroundProcess {
 public:
  BackgroundProcess(const std::vector<std::string>& argv, const std::filesystem::path& log);
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;
  ~BackgroundProcess();

  void Signal(int signal_number);
  // The exit code once it has exited (-1 when a signal ended it), or nullopt after `timeout`.
  std::optional<int> WaitFor(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::optional<int> exit_code_;
};

// The absolute path of `name` on PATH, or empty.
std::filesystem::path FindExecutable(const std::string& name);

}  // namespace gradients::testing
