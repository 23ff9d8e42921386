// `gradients-miner --config FILE`: loads the config, starts the miner, and stops it on SIGINT or
// SIGTERM with every job's state kept for the next start. Everything it wires lives in miner/
// (MinerDaemon).
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "common/clock.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/stop_signals.h"
#include "miner/miner_daemon.h"

int main(int argc, char** argv) {
  CLI::App app{"gradients-miner: takes fine-tuning tasks it can win, trains them and uploads signed checkpoints"};
  std::string config_path, log_level;
  app.add_option("--config", config_path, "The miner's JSON config (configs/miner.example.json)")->required();
  app.add_option("--log-level", log_level, "Overrides the config's log.level");
  CLI11_PARSE(app, argc, argv);

  gradients::Result<gradients::MinerOptions> options =
      gradients::LoadConfigFile<gradients::MinerOptions>(config_path, "miner");
  if (!options.ok()) {
    std::cerr << "gradients-miner: " << options.status().message() << "\n";
    return 2;
  }
  if (!log_level.empty()) options->log.level = log_level;
  if (gradients::Status status = gradients::ConfigureLogging(options->log); !status.ok()) {
    std::cerr << "gradients-miner: " << status.message() << "\n";
    return 2;
  }
  gradients::StopSignals stop_signals;  // before any thread starts

  gradients::Result<std::unique_ptr<gradients::MinerDaemon>> daemon =
      gradients::MinerDaemon::Start(*options, gradients::SystemClockMs);
  if (!daemon.ok()) {
    std::cerr << "gradients-miner: " << daemon.status().message() << "\n";
    return 1;
  }
  const char* signal_name = stop_signals.Wait();
  gradients::GetLogger("miner")->info("{}: stopping; jobs keep their state", signal_name);
  (*daemon)->Shutdown();
  return 0;
}
