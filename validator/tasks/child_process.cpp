#include "validator/tasks/child_process.h"

#include <chrono>

#include "common/subprocess.h"

namespace gradients::validator {

common::Result<ChildResult> RunLimitedChild(const std::vector<std::string>& argv, const ChildLimits& limits,
                                    const std::atomic<bool>* cancel) {
  if (argv.empty()) return common::Status::InvalidArgument("no program to run");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limits.timeout_ms);
  common::SubprocessOptions options;
  options.argv = argv;
  options.environment_mode =
      limits.environment.empty() ? common::EnvironmentMode::kInherit : common::EnvironmentMode::kReplace;
  options.environment = limits.environment;
  options.stdin_file = limits.stdin_file.empty() ? "/dev/null" : limits.stdin_file;
  options.stdout_options = {.mode = common::OutputMode::kCapture, .max_bytes = limits.max_stdout_bytes};
  options.stderr_options = {.mode = common::OutputMode::kCapture, .max_bytes = limits.max_stderr_bytes, .keep_last = true};
  options.killed_with_parent = true;
  options.limits = {.address_space_bytes = limits.memory_bytes, .cpu_seconds = limits.cpu_seconds, .core_dumps = false};

  common::Result<common::Subprocess> child = common::Subprocess::Spawn(options);
  if (!child.ok()) {
    // IoError: this process could not make a child (pipe, fork).
    if (child.status().code() == common::StatusCode::kIoError) return child.status();
    // The program could not be started in it: what a shell reports as 127, with the reason.
    ChildResult not_started;
    not_started.exit_code = 127;
    not_started.err_tail = child.status().message();
    return not_started;
  }
  common::SubprocessResult run = child->Wait(deadline, cancel);
  return ChildResult{.exit_code = run.ended.exit_code,
                     .signal = run.ended.signal,
                     .timed_out = run.timed_out,
                     .cancelled = run.cancelled,
                     .out = std::move(run.out),
                     .stdout_truncated = run.out_truncated,
                     .err_tail = std::move(run.err)};
}

}  // namespace gradients::validator
