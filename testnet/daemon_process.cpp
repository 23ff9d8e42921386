#include "testnet/daemon_process.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <string_view>
#include <thread>

extern char** environ;

namespace gradients::testnet {

using Clock = std::chrono::steady_clock;

Daemon::Daemon(std::string name, std::vector<std::string> argv, std::filesystem::path log,
               std::vector<std::string> extra_environment)
    : name_(std::move(name)), argv_(std::move(argv)), log_(std::move(log)) {
  for (char** variable = environ; *variable != nullptr; ++variable) environment_.push_back(*variable);
  environment_.insert(environment_.end(), extra_environment.begin(), extra_environment.end());
}

Daemon::~Daemon() { Kill(); }

common::Status Daemon::Start(const std::filesystem::path& cwd) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  posix_spawn_file_actions_addchdir_np(&actions, cwd.c_str());
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attributes, 0);
  std::vector<char*> args;
  for (std::string& arg : argv_) args.push_back(arg.data());
  args.push_back(nullptr);
  std::vector<char*> environment;
  for (std::string& variable : environment_) environment.push_back(variable.data());
  environment.push_back(nullptr);
  const int error = posix_spawn(&pid_, args[0], &actions, &attributes, args.data(), environment.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (error != 0) {
    pid_ = -1;
    return common::Status::IoError("starting " + name_ + " (" + argv_[0] + "): " + std::strerror(error));
  }
  return common::Status::Ok();
}

std::string Daemon::Ended() {
  if (pid_ <= 0) return ended_;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) != pid_) return "";
  pid_ = -1;
  ended_ = name_ +
           (WIFEXITED(status) ? " exited with " + std::to_string(WEXITSTATUS(status))
                              : " was killed by signal " + std::to_string(WTERMSIG(status))) +
           " (log: " + log_.string() + ")";
  return ended_;
}

void Daemon::Signal(int signal_number) const {
  if (pid_ > 0) kill(pid_, signal_number);
}

void Daemon::WaitOrKill(std::chrono::seconds timeout, const std::atomic<bool>& force) {
  const auto until = Clock::now() + timeout;
  while (pid_ > 0 && Ended().empty() && Clock::now() < until && !force) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Kill();
}

void Daemon::Kill() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::filesystem::path FindProgram(const std::string& name, const std::string& build_subdir) {
  std::error_code error;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", error).parent_path();
  for (const std::filesystem::path& candidate : {self / name, self.parent_path() / build_subdir / name}) {
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  if (const char* path = std::getenv("PATH"); path != nullptr) {
    std::string_view paths(path);
    while (!paths.empty()) {
      const size_t colon = paths.find(':');
      const std::filesystem::path candidate = std::filesystem::path(paths.substr(0, colon)) / name;
      if (access(candidate.c_str(), X_OK) == 0) return candidate;
      paths = colon == std::string_view::npos ? "" : paths.substr(colon + 1);
    }
  }
  return {};
}

}  // namespace gradients::testnet
