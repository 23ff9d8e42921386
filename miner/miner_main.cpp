// `gradients-miner --config FILE [--device D]`: loads the config, starts the miner, and stops it on SIGINT or
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
  std::string config_path, log_level, device;
  app.add_option("--config", config_path, "The miner's JSON config (configs/miner.example.json)")->required();
  app.add_option("--log-level", log_level, "Overrides the config's log.level");
  app.add_option("--device", device, "Overrides the config's device (cpu, cuda, cuda:N): one config for CPU and GPU");
  CLI11_PARSE(app, argc, argv);

  // --device replaces the config's before the config is checked, so it gets the same checks.
  auto load = [&]() -> gradients::common::Result<gradients::miner::MinerOptions> {
    gradients::common::Result<nlohmann::json> json = gradients::common::ReadJsonFile(config_path);
    if (!json.ok()) return json.status();
    if (!device.empty() && json->is_object()) (*json)["device"] = device;
    gradients::common::Result<gradients::miner::MinerOptions> parsed = gradients::common::ParseConfig<gradients::miner::MinerOptions>(*json, "miner");
    if (!parsed.ok()) return parsed.status().WithContext(config_path);
    return parsed;
  };
  gradients::common::Result<gradients::miner::MinerOptions> options = load();
  if (!options.ok()) {
    std::cerr << "gradients-miner: " << options.status().message() << "\n";
    return 2;
  }
  if (!log_level.empty()) options->log.level = log_level;
  if (gradients::common::Status status = gradients::common::ConfigureLogging(options->log); !status.ok()) {
    std::cerr << "gradients-miner: " << status.message() << "\n";
    return 2;
  }
  gradients::common::StopSignals stop_signals;  // before any thread starts

  gradients::common::Result<std::unique_ptr<gradients::miner::MinerDaemon>> daemon =
      gradients::miner::MinerDaemon::Start(*options, gradients::common::SystemClockMs);
  if (!daemon.ok()) {
    std::cerr << "gradients-miner: " << daemon.status().message() << "\n";
    return 1;
  }
  const char* signal_name = stop_signals.Wait();
  gradients::common::GetLogger("miner")->info("{}: stopping; jobs keep their state", signal_name);
  (*daemon)->Shutdown();
  return 0;
}
