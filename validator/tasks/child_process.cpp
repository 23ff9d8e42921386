#include "validator/tasks/child_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/durable_file.h"

namespace gradients::validator {
namespace {

// In the child, between fork and exec: only async-signal-safe calls.
[[noreturn]] void ExecChild(char* const* argv, char* const* environment, const char* stdin_path, int out, int err,
                            const ChildLimits& limits) {
  setpgid(0, 0);
  // The validator blocks SIGINT and SIGTERM for its signal thread; the child must not inherit that,
  // nor outlive the validator.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const int input = open(stdin_path, O_RDONLY);
  if (input < 0) _exit(126);
  dup2(input, STDIN_FILENO);
  dup2(out, STDOUT_FILENO);
  dup2(err, STDERR_FILENO);
  if (limits.memory_bytes > 0) {
    const rlimit memory{limits.memory_bytes, limits.memory_bytes};
    setrlimit(RLIMIT_AS, &memory);
  }
  if (limits.cpu_seconds > 0) {
    // SIGXCPU at the soft limit, SIGKILL one second later.
    const rlimit cpu{limits.cpu_seconds, limits.cpu_seconds + 1};
    setrlimit(RLIMIT_CPU, &cpu);
  }
  const rlimit no_core{0, 0};
  setrlimit(RLIMIT_CORE, &no_core);
  if (environment != nullptr) {
    execve(argv[0], argv, environment);
  } else {
    execv(argv[0], argv);
  }
  _exit(127);
}

}  // namespace

common::Result<ChildResult> RunLimitedChild(const std::vector<std::string>& argv, const ChildLimits& limits,
                                    const std::atomic<bool>* cancel) {
  if (argv.empty()) return common::Status::InvalidArgument("no program to run");
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0) return common::ErrnoStatus("pipe", errno);
  if (pipe2(err_pipe, O_CLOEXEC) != 0) {
    close(out_pipe[0]);
    close(out_pipe[1]);
    return common::ErrnoStatus("pipe", errno);
  }
  std::vector<char*> environment;
  for (const std::string& variable : limits.environment) environment.push_back(const_cast<char*>(variable.c_str()));
  environment.push_back(nullptr);
  const std::string stdin_path = limits.stdin_file.empty() ? "/dev/null" : limits.stdin_file;
  const pid_t pid = fork();
  if (pid == 0) {
    ExecChild(args.data(), limits.environment.empty() ? nullptr : environment.data(), stdin_path.c_str(), out_pipe[1],
              err_pipe[1], limits);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);
  if (pid < 0) {
    close(out_pipe[0]);
    close(err_pipe[0]);
    return common::ErrnoStatus("fork", errno);
  }
  setpgid(pid, pid);  // also here: whichever runs first, the group exists before a kill

  ChildResult result;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(limits.timeout_ms);
  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  int open_pipes = 2;
  char buffer[1 << 14];
  while (open_pipes > 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || (cancel != nullptr && *cancel)) {
      (left.count() <= 0 ? result.timed_out : result.cancelled) = true;
      kill(-pid, SIGKILL);
      break;
    }
    const int ready = poll(fds, 2, static_cast<int>(std::min<int64_t>(left.count(), 1000)));
    if (ready < 0) {
      if (errno == EINTR) continue;  // revents are stale
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_pipes;
        continue;
      }
      if (i == 0) {
        const size_t room = limits.max_stdout_bytes - std::min(limits.max_stdout_bytes, result.out.size());
        result.out.append(buffer, std::min(room, static_cast<size_t>(n)));
        result.stdout_truncated = result.stdout_truncated || static_cast<size_t>(n) > room;
      } else {
        result.err_tail.append(buffer, static_cast<size_t>(n));
        if (result.err_tail.size() > limits.max_stderr_bytes) {
          result.err_tail.erase(0, result.err_tail.size() - limits.max_stderr_bytes);
        }
      }
    }
  }
  for (pollfd& fd : fds) {
    if (fd.fd >= 0) close(fd.fd);
  }
  // A child may close its output and go on running: the timeout and the cancel flag still hold.
  int status = 0;
  for (;;) {
    const pid_t done = waitpid(pid, &status, result.timed_out || result.cancelled ? 0 : WNOHANG);
    if (done == pid || (done < 0 && errno != EINTR)) break;
    if (done == 0) {
      if (std::chrono::steady_clock::now() >= deadline || (cancel != nullptr && *cancel)) {
        (std::chrono::steady_clock::now() >= deadline ? result.timed_out : result.cancelled) = true;
        kill(-pid, SIGKILL);
        continue;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  // Whatever the job left running in its group goes with it.
  kill(-pid, SIGKILL);
  return result;
}

}  // namespace gradients::validator
