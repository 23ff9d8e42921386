#include "testnet/testnet.h"

#include <fmt/format.h>

#include <chrono>
#include <csignal>
#include <memory>
#include <thread>

#include "testnet/daemon_process.h"
#include "testnet/round_watcher.h"
#include "testnet/testnet_prepare.h"

namespace gradients::testnet {

int PrepareTestnet(const TestnetOptions& options, const TestnetSignals& signals, std::ostream& out, std::ostream& err) {
  common::Result<LoadedTestnet> testnet = LoadTestnet(options);
  if (!testnet.ok()) return err << "gradients testnet: " << testnet.status().message() << "\n", 2;
  if (common::Status status = PrepareTestnetFiles(options, *testnet, signals.stop, out); !status.ok()) {
    err << "gradients testnet prepare: " << status.message() << "\n";
    return 1;
  }
  return 0;
}

int WatchTestnet(const TestnetOptions& options, const TestnetSignals& signals, std::ostream& out, std::ostream& err) {
  common::Result<LoadedTestnet> testnet = LoadTestnet(options);
  if (!testnet.ok()) return err << "gradients testnet: " << testnet.status().message() << "\n", 2;
  return WatchRounds(options, *testnet, signals.stop, nullptr, out, err);
}

int RunTestnet(const TestnetOptions& options, const TestnetSignals& signals, std::ostream& out, std::ostream& err) {
  const std::atomic<bool>& stop = signals.stop;
  common::Result<LoadedTestnet> testnet = LoadTestnet(options);
  if (!testnet.ok()) return err << "gradients testnet: " << testnet.status().message() << "\n", 2;
  const std::filesystem::path validator_program = FindProgram("gradients-validator", "validator");
  const std::filesystem::path miner_program = FindProgram("gradients-miner", "miner");
  if (validator_program.empty() || miner_program.empty()) {
    err << "gradients testnet: cannot find gradients-validator and gradients-miner beside this program, in its "
           "build tree or on PATH (build them: cmake --build build)\n";
    return 2;
  }
  if (common::Status status = PrepareTestnetFiles(options, *testnet, signals.stop, out); !status.ok()) {
    if (status.code() == common::StatusCode::kAborted) return out << "stopped\n", 0;
    err << "gradients testnet prepare: " << status.message() << "\n";
    return 1;
  }

  const std::filesystem::path dir = std::filesystem::absolute(options.dir);
  std::error_code error;
  std::filesystem::create_directories(dir / "logs", error);
  std::vector<std::unique_ptr<Daemon>> daemons;
  daemons.push_back(std::make_unique<Daemon>(
      "validator", std::vector<std::string>{validator_program, "--config", testnet->validator_config.string()},
      dir / "logs" / "validator.log"));
  // The miners share this machine's cores: OpenBLAS threads of their own in each would spin
  // against each other's (docker-compose.yml sets the same).
  for (const TestnetMiner& miner : testnet->miners) {
    daemons.push_back(std::make_unique<Daemon>(
        miner.name, std::vector<std::string>{miner_program, "--config", miner.config.string()},
        dir / "logs" / (miner.name + ".log"), std::vector<std::string>{"OPENBLAS_NUM_THREADS=1", "OMP_NUM_THREADS=1"}));
  }
  // The validator first: the miners connect to it (and would only retry until it serves).
  const std::filesystem::path ports = InDir(dir, testnet->validator.data_dir) / "ports.json";
  std::filesystem::remove(ports, error);
  int exit_code = 0;
  if (common::Status status = daemons[0]->Start(dir); !status.ok()) {
    err << "gradients testnet: " << status.message() << "\n";
    return 1;
  }
  for (int i = 0; i < 1200 && !std::filesystem::exists(ports) && daemons[0]->Ended().empty() && !stop; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (stop && !std::filesystem::exists(ports)) {
    // Ctrl-C while the validator starts: stopped below, nothing to report.
  } else if (!std::filesystem::exists(ports)) {
    const std::string ended = daemons[0]->Ended();
    err << "gradients testnet: the validator did not start: " << (ended.empty() ? "no ports.json after 60 s" : ended)
        << " (log: " << (dir / "logs" / "validator.log").string() << ")\n";
    exit_code = 1;
  } else {
    out << "validator: " << validator_program.string() << ", admin " << AdminAddress(dir, *testnet) << ", log "
        << (dir / "logs" / "validator.log").string() << "\n";
    for (size_t i = 1; i < daemons.size() && exit_code == 0; ++i) {
      if (common::Status status = daemons[i]->Start(dir); !status.ok()) {
        err << "gradients testnet: " << status.message() << "\n";
        exit_code = 1;
      } else {
        out << daemons[i]->name() << ": log " << (dir / "logs" / (daemons[i]->name() + ".log")).string() << "\n";
      }
    }
    out << (options.rounds > 0 ? fmt::format("watching for {} round(s)\n", options.rounds)
                               : std::string("rounds run until Ctrl-C\n"))
        << std::flush;
    if (exit_code == 0) {
      TestnetOptions in_dir = options;
      in_dir.dir = dir;
      exit_code = WatchRounds(
          in_dir, *testnet, stop,
          [&] {
            for (auto& daemon : daemons) {
              if (std::string ended = daemon->Ended(); !ended.empty()) return ended;
            }
            return std::string();
          },
          out, err);
    }
  }
  // Miners first (each checkpoints its job), then the validator.
  out << "stopping the testnet\n" << std::flush;
  for (size_t i = 1; i < daemons.size(); ++i) daemons[i]->Signal(SIGTERM);
  for (size_t i = 1; i < daemons.size(); ++i) daemons[i]->WaitOrKill(std::chrono::seconds(30), signals.force);
  daemons[0]->Signal(SIGTERM);
  daemons[0]->WaitOrKill(std::chrono::seconds(30), signals.force);
  out << "stopped\n";
  return exit_code;
}

}  // namespace gradients::testnet
