// The testnet's daemons (gradients-validator, gradients-miner) as child processes.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "common/status.h"

namespace gradients::testnet {

// A daemon of the testnet: its own process group (Ctrl-C reaches the testnet, which stops the
// daemons in order), working directory the testnet's, output to a log file.
class Daemon {
 public:
  Daemon(std::string name, std::vector<std::string> argv, std::filesystem::path log,
         std::vector<std::string> extra_environment = {});
  ~Daemon();

  common::Status Start(const std::filesystem::path& cwd);

  // Empty while it runs; else how it ended.
  std::string Ended();

  void Signal(int signal_number) const;

  // Waits up to `timeout` for it to end, or until `force` turns true; then kills what is left.
  void WaitOrKill(std::chrono::seconds timeout, const std::atomic<bool>& force);

  const std::string& name() const { return name_; }

 private:
  // The whole process group: the validator's evaluations too.
  void Kill();

  std::string name_;
  std::vector<std::string> argv_;
  std::filesystem::path log_;
  std::vector<std::string> environment_;
  pid_t pid_ = -1;
  std::string ended_;
};

// gradients-validator or gradients-miner: beside this program, in the build tree beside it, or on PATH.
std::filesystem::path FindProgram(const std::string& name, const std::string& build_subdir);

}  // namespace gradients::testnet
