// Runs an untrusted job (the evaluation of a miner's checkpoint) in a child process under limits,
// so that whatever the job's input does, only the child suffers: address space (RLIMIT_AS), CPU
// time (RLIMIT_CPU), a wall-clock timeout after which it is killed, and bounded captured output.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace gradients::validator {

struct ChildLimits {
  uint64_t memory_bytes = uint64_t{16} << 30;  // 0: no limit
  uint64_t cpu_seconds = 3600;                 // 0: no limit
  int64_t timeout_ms = 3'600'000;
  size_t max_stdout_bytes = 1 << 16;  // the rest is discarded (and `stdout_truncated` set)
  size_t max_stderr_bytes = 1 << 14;  // the last bytes are kept: where the error is
  std::string stdin_file{};           // the child's stdin; empty: /dev/null
  // The child's whole environment ("NAME=value"); empty: the validator's. A fixed one keeps
  // variables that change numerics (OMP_*, OPENBLAS_*, ATEN_*) out of an evaluation.
  std::vector<std::string> environment{};
};

struct ChildResult {
  int exit_code = -1;    // -1 when a signal ended it
  int signal = 0;        // the signal that ended it, 0 when it exited
  bool timed_out = false;  // killed at the timeout
  bool cancelled = false;  // killed because the caller asked
  std::string out;
  bool stdout_truncated = false;
  std::string err_tail;
};

// Runs argv[0] (a path) with argv, stdin from limits.stdin_file, in its own process group (killed whole at
// the timeout, or within a second of `*cancel` turning true), with no signals blocked and killed if
// the validator dies (common/subprocess.h). An error only when no child can be made (pipe, fork); a
// program that cannot be started in it ends with exit code 127, the reason in err_tail.
common::Result<ChildResult> RunLimitedChild(const std::vector<std::string>& argv, const ChildLimits& limits,
                                    const std::atomic<bool>* cancel = nullptr);

}  // namespace gradients::validator
