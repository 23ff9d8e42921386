// The testnet's daemons (gradients-validator, gradients-miner) as child processes.
#pragma once

#include <atomic>
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/subprocess.h"

namespace gradients::testnet {

// A daemon of the testnet: its own process group (Ctrl-C reaches the testnet, which stops the
// daemons in order), stdin from /dev/null, stdout and stderr appended to a log file. Destroying it
// kills what is left of it.
class Daemon {
 public:
  // `extra_environment` ("NAME=value") is added to ours, except a variable we have ourselves: a
  // setting given to the testnet reaches its daemons.
  Daemon(std::string name, std::vector<std::string> argv, std::filesystem::path log,
         std::vector<std::string> extra_environment = {});

  // Starts it in the working directory `cwd`.
  common::Status Start(const std::filesystem::path& cwd);

  // Empty while it runs (or before it starts); else how it ended, naming its log.
  std::string Ended();

  // To the daemon alone (SIGTERM: finish cleanly).
  void Signal(int signal_number) const;

  // Waits up to `timeout` for it to end, or until `force` turns true; then kills what is left (its
  // whole process group: the validator's evaluations too).
  void WaitOrKill(std::chrono::seconds timeout, const std::atomic<bool>& force);

  const std::string& name() const { return name_; }

 private:
  std::string name_;
  std::vector<std::string> argv_;
  std::filesystem::path log_;
  std::vector<std::string> extra_environment_;
  std::optional<common::Subprocess> process_;  // while it may run
  std::string ended_;
};

// gradients-validator or gradients-miner: beside this program, in the build tree beside it
// (`build_subdir`), or on PATH; empty when none is found.
std::filesystem::path FindProgram(const std::string& name, const std::string& build_subdir);

}  // namespace gradients::testnet
