// `gradients-validator --config FILE`: loads the config, starts the validator, and stops it cleanly
// on SIGINT or SIGTERM. Everything it wires lives in validator/ (ValidatorDaemon).
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "common/clock.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/stop_signals.h"
#include "validator/validator_daemon.h"

int main(int argc, char** argv) {
  CLI::App app{"gradients-validator: publishes fine-tuning tasks to miners and scores what they return"};
  std::string config_path, log_level;
  app.add_option("--config", config_path, "The validator's JSON config (configs/validator.example.json)")->required();
  app.add_option("--log-level", log_level, "Overrides the config's log.level");
  CLI11_PARSE(app, argc, argv);

  gradients::Result<gradients::ValidatorOptions> options =
      gradients::LoadConfigFile<gradients::ValidatorOptions>(config_path, "validator");
  if (!options.ok()) {
    std::cerr << "gradients-validator: " << options.status().message() << "\n";
    return 2;
  }
  if (!log_level.empty()) options->log.level = log_level;
  if (gradients::Status status = gradients::ConfigureLogging(options->log); !status.ok()) {
    std::cerr << "gradients-validator: " << status.message() << "\n";
    return 2;
  }
  gradients::StopSignals stop_signals;  // before any thread starts

  gradients::Result<std::unique_ptr<gradients::ValidatorDaemon>> daemon =
      gradients::ValidatorDaemon::Start(*options, gradients::SystemClockMs);
  if (!daemon.ok()) {
    std::cerr << "gradients-validator: " << daemon.status().message() << "\n";
    return 1;
  }
  const char* signal_name = stop_signals.Wait();
  gradients::GetLogger("validator")->info("{}: stopping", signal_name);
  (*daemon)->Shutdown();
  return 0;
}
