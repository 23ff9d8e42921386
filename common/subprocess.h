// Child processes, started and waited for in one way: the evaluator's confined child
// (validator/tasks/child_process.h), the local testnet's daemons and base-model's spm_train.
//
// A child gets its argv, a working directory, an environment (ours, ours with some variables set,
// or one of its own), stdin from /dev/null or a file, stdout and stderr each inherited, discarded,
// appended to a file or captured within a bound, its own process group (so that what it starts
// can be killed with it) and resource limits. Everything is prepared before fork(): between fork
// and exec the child makes only async-signal-safe calls, so a process with many threads (the
// validator) may start children. A child starts with no signal blocked, whatever its parent blocks.
//
// A Subprocess belongs to one thread at a time.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace gradients::common {

enum class EnvironmentMode {
  kInherit,  // ours
  kAdd,      // ours, with the given variables set over it (a name given replaces ours)
  kReplace,  // the given variables alone
};

enum class OutputMode {
  kInherit,       // where ours goes
  kDiscard,       // /dev/null
  kAppendToFile,  // a file, created (mode 0644) when missing
  kCapture,       // read into the result; a bounded part of it is kept
  kToStdout,      // stderr only: where stdout goes (2>&1)
};

struct OutputOptions {
  OutputMode mode = OutputMode::kInherit;
  std::filesystem::path file{};  // kAppendToFile: the file
  size_t max_bytes = 1 << 16;    // kCapture: the bytes kept; the rest is read and dropped
  bool keep_last = false;        // kCapture: keep the last bytes (where an error is) rather than the first
};

// setrlimit() in the child, soft and hard limit alike; 0 leaves a limit as it is in this process.
struct ResourceLimits {
  uint64_t address_space_bytes = 0;  // RLIMIT_AS: allocations past it fail
  uint64_t cpu_seconds = 0;          // RLIMIT_CPU: SIGXCPU at the limit, SIGKILL one second later (hard limit)
  uint64_t file_size_bytes = 0;      // RLIMIT_FSIZE: a write past it fails (SIGXFSZ)
  uint64_t open_files = 0;           // RLIMIT_NOFILE
  bool core_dumps = true;            // false: RLIMIT_CORE 0
};

struct SubprocessOptions {
  std::vector<std::string> argv{};  // argv[0]: the program's path
  bool search_path = false;         // look argv[0] up on PATH when it has no '/' (as a shell does)
  std::filesystem::path working_directory{};  // empty: ours
  EnvironmentMode environment_mode = EnvironmentMode::kInherit;
  std::vector<std::string> environment{};          // "NAME=value" each; kAdd and kReplace only
  std::filesystem::path stdin_file = "/dev/null";  // empty: our stdin
  // Files are opened before the child changes to its working directory: relative paths are ours.
  OutputOptions stdout_options{};
  OutputOptions stderr_options{};
  // Its own process group: a Ctrl-C at our terminal does not reach it, and it can be killed with
  // everything it started. False: ours (a Ctrl-C reaches it as it reaches us).
  bool own_process_group = true;
  // SIGKILL when the thread that started it ends: a daemon's children do not outlive it.
  bool killed_with_parent = false;
  ResourceLimits limits{};
};

// How a child ended.
struct ExitStatus {
  int exit_code = -1;  // -1 when a signal ended it
  int signal = 0;      // the signal that ended it; 0 when it exited
};

struct SubprocessResult {
  ExitStatus ended{};
  bool timed_out = false;  // killed at the deadline
  bool cancelled = false;  // killed because the caller asked
  std::string out;         // captured stdout
  bool out_truncated = false;
  std::string err;  // captured stderr
  bool err_truncated = false;
};

class Subprocess {
 public:
  // Starts options.argv[0]. Errors: IoError when this process cannot make a child (pipe, fork);
  // NotFound, PermissionDenied or FailedPrecondition when the program cannot be started (its
  // executable, working directory or files), the message naming which and why
  // ("cannot run /opt/x: No such file or directory").
  static Result<Subprocess> Spawn(const SubprocessOptions& options);

  Subprocess(Subprocess&& other) noexcept;
  Subprocess& operator=(Subprocess&& other) noexcept;
  Subprocess(const Subprocess&) = delete;
  Subprocess& operator=(const Subprocess&) = delete;
  // A child still running is killed as Kill() does.
  ~Subprocess();

  pid_t pid() const { return pid_; }

  // Sends `signal_number` to the child alone (not its group) while it runs: a daemon asked to stop.
  void Signal(int signal_number) const;

  // SIGKILL to its process group (to the child alone when it shares ours), and reaped. Nothing
  // once it has ended.
  void Kill();

  // Without blocking: how it ended, or nullopt while it runs. Reads the captured output waiting.
  std::optional<ExitStatus> TryWait();

  // Reads the captured output until the child closes it, then waits for the child to end. At the
  // deadline it is killed with its group (timed_out), likewise within a second of `*cancel`
  // turning true (cancelled); a child that closes its output and goes on running is held to both.
  // Once it has ended, whatever it left running in its own process group is killed too.
  SubprocessResult Wait(std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt,
                        const std::atomic<bool>* cancel = nullptr);

 private:
  Subprocess() = default;
  void ReadOutput(int timeout_ms);
  void Reap(bool block);
  void KillGroup() const;
  void CloseOutput();

  pid_t pid_ = -1;
  bool own_process_group_ = true;
  int out_fd_ = -1;  // the read ends of the capture pipes, -1 when closed or not captured
  int err_fd_ = -1;
  OutputOptions stdout_options_;
  OutputOptions stderr_options_;
  std::optional<ExitStatus> ended_;
  SubprocessResult result_;
};

// Spawn, then Wait.
Result<SubprocessResult> RunSubprocess(const SubprocessOptions& options,
                                       std::optional<std::chrono::steady_clock::time_point> deadline = std::nullopt,
                                       const std::atomic<bool>* cancel = nullptr);

}  // namespace gradients::common
