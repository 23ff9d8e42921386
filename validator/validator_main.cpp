// `gradients-validator --config FILE`: loads the config, starts the validator, and stops it cleanly
// on SIGINT or SIGTERM. Everything it wires lives in validator/ (ValidatorDaemon).
#include <pthread.h>
#include <signal.h>

#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "common/clock.h"
#include "common/config.h"
#include "common/logging.h"
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
  // The stop signals are taken by sigwait below, not by a handler: blocked before any thread starts,
  // so that every thread inherits the mask.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  gradients::Result<std::unique_ptr<gradients::ValidatorDaemon>> daemon =
      gradients::ValidatorDaemon::Start(*options, gradients::SystemClockMs);
  if (!daemon.ok()) {
    std::cerr << "gradients-validator: " << daemon.status().message() << "\n";
    return 1;
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  gradients::GetLogger("validator")->info("{}: stopping", signal_number == SIGINT ? "SIGINT" : "SIGTERM");
  (*daemon)->Shutdown();
  return 0;
}
