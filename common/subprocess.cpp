#include "common/subprocess.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <thread>
#include <utility>

#include "common/durable_file.h"

extern char** environ;

namespace gradients::common {
namespace {

// A descriptor of this process, closed when it goes.
class OwnedDescriptor {
 public:
  OwnedDescriptor() = default;
  explicit OwnedDescriptor(int fd) : fd_(fd) {}
  OwnedDescriptor(OwnedDescriptor&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  OwnedDescriptor& operator=(OwnedDescriptor&& other) noexcept {
    Reset(std::exchange(other.fd_, -1));
    return *this;
  }
  ~OwnedDescriptor() { Reset(); }

  int get() const { return fd_; }
  int Release() { return std::exchange(fd_, -1); }
  void Reset(int fd = -1) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

// The program cannot be started: never IoError, which says that this process cannot make a child.
Status StartFailure(const std::string& what, int error_number) {
  std::string message = what + ": " + std::strerror(error_number);
  if (error_number == ENOENT) return Status::NotFound(std::move(message));
  if (error_number == EACCES || error_number == EPERM) return Status::PermissionDenied(std::move(message));
  return Status::FailedPrecondition(std::move(message));
}

// Moved to 3 or above (close-on-exec), so that the child's dup2() onto 0, 1 and 2 never replaces
// a descriptor it has yet to duplicate.
OwnedDescriptor AboveStdio(int fd) {
  if (fd < 0 || fd > STDERR_FILENO) return OwnedDescriptor(fd);
  const int moved = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
  close(fd);
  return OwnedDescriptor(moved);
}

Result<OwnedDescriptor> OpenForChild(const std::filesystem::path& path, int flags, std::string_view use) {
  const int fd = open(path.c_str(), flags | O_CLOEXEC, 0644);
  if (fd < 0) return StartFailure("cannot open " + path.string() + " for " + std::string(use), errno);
  return AboveStdio(fd);
}

Result<std::pair<OwnedDescriptor, OwnedDescriptor>> Pipe() {
  int ends[2];
  if (pipe2(ends, O_CLOEXEC) != 0) return ErrnoStatus("pipe", errno);
  OwnedDescriptor read_end = AboveStdio(ends[0]);
  OwnedDescriptor write_end = AboveStdio(ends[1]);
  return std::make_pair(std::move(read_end), std::move(write_end));
}

// The program as exec() takes it: `name` itself when it has a '/', else the first executable
// file of that name on PATH (PATH unset: /bin:/usr/bin).
Result<std::string> FindOnPath(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string_view directories = path != nullptr ? path : "/bin:/usr/bin";
  int error_number = ENOENT;
  for (;;) {
    const size_t colon = directories.find(':');
    const std::string_view directory = directories.substr(0, colon);
    const std::string candidate = (directory.empty() ? std::string(".") : std::string(directory)) + "/" + name;
    struct stat info;
    if (stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode)) {
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
      error_number = EACCES;
    }
    if (colon == std::string_view::npos) break;
    directories.remove_prefix(colon + 1);
  }
  return StartFailure("cannot run " + name, error_number);
}

std::string_view VariableName(std::string_view variable) { return variable.substr(0, variable.find('=')); }

std::vector<std::string> ChildEnvironment(const SubprocessOptions& options) {
  if (options.environment_mode == EnvironmentMode::kReplace) return options.environment;
  std::vector<std::string> environment;
  for (char** variable = environ; *variable != nullptr; ++variable) {
    const std::string_view name = VariableName(*variable);
    const bool replaced = std::any_of(options.environment.begin(), options.environment.end(),
                                      [&](const std::string& added) { return VariableName(added) == name; });
    if (!replaced) environment.emplace_back(*variable);
  }
  environment.insert(environment.end(), options.environment.begin(), options.environment.end());
  return environment;
}

// What failed in the child, written to the parent through a close-on-exec pipe.
enum class ChildStage : int { kWorkingDirectory, kExec };
struct ChildFailure {
  ChildStage stage;
  int error_number;
};

// Everything the child needs, made before fork().
struct ChildPlan {
  const char* program = nullptr;
  char* const* argv = nullptr;
  char* const* environment = nullptr;  // null: ours
  const char* working_directory = nullptr;
  int stdin_fd = -1;  // -1: inherited
  int stdout_fd = -1;
  int stderr_fd = -1;
  bool stderr_to_stdout = false;
  bool own_process_group = true;
  bool killed_with_parent = false;
  ResourceLimits limits;
  int failure_fd = -1;
};

void SetLimit(int resource, uint64_t soft, uint64_t hard) {
  const rlimit limit{static_cast<rlim_t>(soft), static_cast<rlim_t>(hard)};
  setrlimit(resource, &limit);
}

// In the child, between fork and exec: only async-signal-safe calls.
[[noreturn]] void ExecChild(const ChildPlan& plan) {
  if (plan.own_process_group) setpgid(0, 0);
  // A daemon blocks SIGINT and SIGTERM for its signal thread; its children must not inherit that.
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, nullptr);
  if (plan.killed_with_parent) prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (plan.stdin_fd >= 0) dup2(plan.stdin_fd, STDIN_FILENO);
  if (plan.stdout_fd >= 0) dup2(plan.stdout_fd, STDOUT_FILENO);
  if (plan.stderr_to_stdout) {
    dup2(STDOUT_FILENO, STDERR_FILENO);
  } else if (plan.stderr_fd >= 0) {
    dup2(plan.stderr_fd, STDERR_FILENO);
  }
  const ResourceLimits& limits = plan.limits;
  if (limits.address_space_bytes > 0) SetLimit(RLIMIT_AS, limits.address_space_bytes, limits.address_space_bytes);
  if (limits.cpu_seconds > 0) SetLimit(RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1);
  if (limits.file_size_bytes > 0) SetLimit(RLIMIT_FSIZE, limits.file_size_bytes, limits.file_size_bytes);
  if (limits.open_files > 0) SetLimit(RLIMIT_NOFILE, limits.open_files, limits.open_files);
  if (!limits.core_dumps) SetLimit(RLIMIT_CORE, 0, 0);
  ChildFailure failure{ChildStage::kWorkingDirectory, 0};
  if (plan.working_directory == nullptr || chdir(plan.working_directory) == 0) {
    failure.stage = ChildStage::kExec;
    if (plan.environment != nullptr) {
      execve(plan.program, plan.argv, plan.environment);
    } else {
      execv(plan.program, plan.argv);
    }
  }
  failure.error_number = errno;
  [[maybe_unused]] const ssize_t written = write(plan.failure_fd, &failure, sizeof failure);
  _exit(127);
}

// Where one of the child's outputs goes: the descriptor it gets, and the read end we keep when
// captured.
struct OutputEnds {
  OwnedDescriptor child;
  OwnedDescriptor captured;
};

Result<OutputEnds> OpenOutput(const OutputOptions& output, std::string_view use) {
  OutputEnds ends;
  switch (output.mode) {
    case OutputMode::kInherit:
    case OutputMode::kToStdout:
      break;
    case OutputMode::kDiscard: {
      GRADIENTS_ASSIGN_OR_RETURN(ends.child, OpenForChild("/dev/null", O_WRONLY, use));
      break;
    }
    case OutputMode::kAppendToFile: {
      GRADIENTS_ASSIGN_OR_RETURN(ends.child, OpenForChild(output.file, O_WRONLY | O_CREAT | O_APPEND, use));
      break;
    }
    case OutputMode::kCapture: {
      GRADIENTS_ASSIGN_OR_RETURN(auto pipe, Pipe());
      ends.captured = std::move(pipe.first);
      ends.child = std::move(pipe.second);
      break;
    }
  }
  return ends;
}

void Keep(std::string_view bytes, const OutputOptions& output, std::string& kept, bool& truncated) {
  if (output.keep_last) {
    kept.append(bytes);
    if (kept.size() > output.max_bytes) {
      kept.erase(0, kept.size() - output.max_bytes);
      truncated = true;
    }
    return;
  }
  const size_t room = output.max_bytes - std::min(output.max_bytes, kept.size());
  kept.append(bytes.substr(0, room));
  truncated = truncated || bytes.size() > room;
}

}  // namespace

Result<Subprocess> Subprocess::Spawn(const SubprocessOptions& options) {
  if (options.argv.empty()) return Status::InvalidArgument("no program to run");
  if (options.stdout_options.mode == OutputMode::kToStdout) {
    return Status::InvalidArgument("stdout cannot be sent where stdout goes");
  }
  std::string program = options.argv[0];
  if (options.search_path) {
    GRADIENTS_ASSIGN_OR_RETURN(program, FindOnPath(program));
  }

  std::vector<char*> argv;
  for (const std::string& arg : options.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> environment_strings;
  std::vector<char*> environment;
  if (options.environment_mode != EnvironmentMode::kInherit) {
    environment_strings = ChildEnvironment(options);
    for (const std::string& variable : environment_strings) environment.push_back(const_cast<char*>(variable.c_str()));
    environment.push_back(nullptr);
  }
  OwnedDescriptor stdin_fd;
  if (!options.stdin_file.empty()) {
    GRADIENTS_ASSIGN_OR_RETURN(stdin_fd, OpenForChild(options.stdin_file, O_RDONLY, "stdin"));
  }
  GRADIENTS_ASSIGN_OR_RETURN(OutputEnds out, OpenOutput(options.stdout_options, "stdout"));
  GRADIENTS_ASSIGN_OR_RETURN(OutputEnds err, OpenOutput(options.stderr_options, "stderr"));
  GRADIENTS_ASSIGN_OR_RETURN(auto failure_pipe, Pipe());

  const std::string working_directory = options.working_directory.string();
  ChildPlan plan;
  plan.program = program.c_str();
  plan.argv = argv.data();
  plan.environment = environment.empty() ? nullptr : environment.data();
  plan.working_directory = working_directory.empty() ? nullptr : working_directory.c_str();
  plan.stdin_fd = stdin_fd.get();
  plan.stdout_fd = out.child.get();
  plan.stderr_fd = err.child.get();
  plan.stderr_to_stdout = options.stderr_options.mode == OutputMode::kToStdout;
  plan.own_process_group = options.own_process_group;
  plan.killed_with_parent = options.killed_with_parent;
  plan.limits = options.limits;
  plan.failure_fd = failure_pipe.second.get();

  const pid_t pid = fork();
  if (pid == 0) ExecChild(plan);
  if (pid < 0) return ErrnoStatus("fork", errno);
  // Also here: whichever runs first, the group exists before anyone signals it.
  if (options.own_process_group) setpgid(pid, pid);
  failure_pipe.second.Reset();
  stdin_fd.Reset();
  out.child.Reset();
  err.child.Reset();

  // Nothing to read once exec() has closed the pipe; a failure report otherwise.
  ChildFailure failure{};
  ssize_t got = 0;
  do {
    got = read(failure_pipe.first.get(), &failure, sizeof failure);
  } while (got < 0 && errno == EINTR);
  if (got == static_cast<ssize_t>(sizeof failure)) {
    while (waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return StartFailure(failure.stage == ChildStage::kExec ? "cannot run " + options.argv[0]
                                                           : "cannot change to directory " + working_directory,
                        failure.error_number);
  }

  Subprocess child;
  child.pid_ = pid;
  child.own_process_group_ = options.own_process_group;
  child.out_fd_ = out.captured.Release();
  child.err_fd_ = err.captured.Release();
  child.stdout_options_ = options.stdout_options;
  child.stderr_options_ = options.stderr_options;
  return child;
}

Subprocess::Subprocess(Subprocess&& other) noexcept { *this = std::move(other); }

Subprocess& Subprocess::operator=(Subprocess&& other) noexcept {
  if (this == &other) return *this;
  Kill();
  CloseOutput();
  pid_ = std::exchange(other.pid_, -1);
  own_process_group_ = other.own_process_group_;
  out_fd_ = std::exchange(other.out_fd_, -1);
  err_fd_ = std::exchange(other.err_fd_, -1);
  stdout_options_ = std::move(other.stdout_options_);
  stderr_options_ = std::move(other.stderr_options_);
  ended_ = other.ended_;
  result_ = std::move(other.result_);
  return *this;
}

Subprocess::~Subprocess() {
  Kill();
  CloseOutput();
}

void Subprocess::Signal(int signal_number) const {
  if (pid_ > 0 && !ended_) kill(pid_, signal_number);
}

void Subprocess::Kill() {
  if (pid_ <= 0 || ended_) return;
  KillGroup();
  Reap(/*block=*/true);
}

std::optional<ExitStatus> Subprocess::TryWait() {
  ReadOutput(0);
  Reap(/*block=*/false);
  return ended_;
}

SubprocessResult Subprocess::Wait(std::optional<std::chrono::steady_clock::time_point> deadline,
                                  const std::atomic<bool>* cancel) {
  using std::chrono::steady_clock;
  if (pid_ <= 0) return result_;
  // Kills the child's group once the deadline has passed or the caller asks; true when it did.
  const auto stop_when_due = [&] {
    if (result_.timed_out || result_.cancelled) return true;
    if (deadline && steady_clock::now() >= *deadline) {
      result_.timed_out = true;
    } else if (cancel != nullptr && *cancel) {
      result_.cancelled = true;
    } else {
      return false;
    }
    if (own_process_group_ || !ended_) KillGroup();
    return true;
  };
  while (out_fd_ >= 0 || err_fd_ >= 0) {
    if (stop_when_due()) break;
    int64_t wait_ms = 1000;
    if (deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - steady_clock::now());
      wait_ms = std::clamp<int64_t>(left.count(), 0, 1000);
    }
    ReadOutput(static_cast<int>(wait_ms));
  }
  CloseOutput();
  while (!ended_) {
    if (result_.timed_out || result_.cancelled || (!deadline && cancel == nullptr)) {
      Reap(/*block=*/true);
      break;
    }
    Reap(/*block=*/false);
    if (!ended_ && !stop_when_due()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (own_process_group_) kill(-pid_, SIGKILL);
  result_.ended = *ended_;
  return result_;
}

void Subprocess::ReadOutput(int timeout_ms) {
  if (out_fd_ < 0 && err_fd_ < 0) return;
  pollfd fds[2] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}};
  const int ready = poll(fds, 2, timeout_ms);
  if (ready < 0 && errno != EINTR) CloseOutput();
  if (ready <= 0) return;
  char buffer[1 << 14];
  for (int i = 0; i < 2; ++i) {
    if (fds[i].fd < 0 || (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
    const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    int& fd = i == 0 ? out_fd_ : err_fd_;
    if (n <= 0) {
      close(fd);
      fd = -1;
      continue;
    }
    const std::string_view bytes(buffer, static_cast<size_t>(n));
    if (i == 0) {
      Keep(bytes, stdout_options_, result_.out, result_.out_truncated);
    } else {
      Keep(bytes, stderr_options_, result_.err, result_.err_truncated);
    }
  }
}

void Subprocess::Reap(bool block) {
  if (pid_ <= 0 || ended_) return;
  int status = 0;
  pid_t done = 0;
  do {
    done = waitpid(pid_, &status, block ? 0 : WNOHANG);
  } while (done < 0 && errno == EINTR);
  if (done == 0) return;
  ExitStatus ended;  // unknown (-1, 0) when someone else reaped it
  if (done == pid_ && WIFEXITED(status)) ended.exit_code = WEXITSTATUS(status);
  if (done == pid_ && WIFSIGNALED(status)) ended.signal = WTERMSIG(status);
  ended_ = ended;
}

void Subprocess::KillGroup() const { kill(own_process_group_ ? -pid_ : pid_, SIGKILL); }

void Subprocess::CloseOutput() {
  for (int* fd : {&out_fd_, &err_fd_}) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
  }
}

Result<SubprocessResult> RunSubprocess(const SubprocessOptions& options,
                                       std::optional<std::chrono::steady_clock::time_point> deadline,
                                       const std::atomic<bool>* cancel) {
  GRADIENTS_ASSIGN_OR_RETURN(Subprocess child, Subprocess::Spawn(options));
  return child.Wait(deadline, cancel);
}

}  // namespace gradients::common
