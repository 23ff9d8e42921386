#include "testnet/daemon_process.h"

#include <unistd.h>

#include <cstdlib>
#include <string_view>
#include <thread>

namespace gradients::testnet {

Daemon::Daemon(std::string name, std::vector<std::string> argv, std::filesystem::path log,
               std::vector<std::string> extra_environment)
    : name_(std::move(name)), argv_(std::move(argv)), log_(std::move(log)) {
  for (std::string& variable : extra_environment) {
    if (std::getenv(variable.substr(0, variable.find('=')).c_str()) == nullptr) {
      extra_environment_.push_back(std::move(variable));
    }
  }
}

common::Status Daemon::Start(const std::filesystem::path& cwd) {
  common::SubprocessOptions options;
  options.argv = argv_;
  options.working_directory = cwd;
  options.environment_mode = common::EnvironmentMode::kAdd;
  options.environment = extra_environment_;
  options.stdout_options = {.mode = common::OutputMode::kAppendToFile, .file = log_};
  options.stderr_options.mode = common::OutputMode::kToStdout;
  common::Result<common::Subprocess> process = common::Subprocess::Spawn(options);
  if (!process.ok()) return common::Status::IoError("starting " + name_ + ": " + process.status().message());
  process_ = std::move(*process);
  return common::Status::Ok();
}

std::string Daemon::Ended() {
  if (!process_) return ended_;
  const std::optional<common::ExitStatus> status = process_->TryWait();
  if (!status) return "";
  process_.reset();
  ended_ = name_ +
           (status->signal == 0 ? " exited with " + std::to_string(status->exit_code)
                                : " was killed by signal " + std::to_string(status->signal)) +
           " (log: " + log_.string() + ")";
  return ended_;
}

void Daemon::Signal(int signal_number) const {
  if (process_) process_->Signal(signal_number);
}

void Daemon::WaitOrKill(std::chrono::seconds timeout, const std::atomic<bool>& force) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (process_ && Ended().empty() && std::chrono::steady_clock::now() < until && !force) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  process_.reset();
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
