#include "cli/testnet_commands.h"

#include <csignal>
#include <exception>
#include <iostream>
#include <memory>
#include <string>

#include "cli/command_failure.h"
#include "testnet/testnet.h"

namespace gradients::cli {
namespace {

// The first Ctrl-C (SIGINT, SIGTERM, SIGHUP) stops cleanly, a second one kills the daemons at once.
testnet::TestnetSignals testnet_signals;

extern "C" void StopTestnet(int) {
  if (testnet_signals.stop.exchange(true)) testnet_signals.force = true;
}

int RunTestnetCommand(const std::string& command, const testnet::TestnetOptions& options) {
  for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) std::signal(signal_number, StopTestnet);
  try {
    if (command == "prepare") return testnet::PrepareTestnet(options, testnet_signals, std::cout, std::cerr);
    if (command == "watch") return testnet::WatchTestnet(options, testnet_signals, std::cout, std::cerr);
    return testnet::RunTestnet(options, testnet_signals, std::cout, std::cerr);
  } catch (const std::exception& error) {  // the daemons were stopped as the stack unwound
    std::cerr << "gradients testnet " << command << ": " << error.what() << "\n";
    return 1;
  }
}

}  // namespace

void AddTestnetCommands(CLI::App& app) {
  auto options = std::make_shared<testnet::TestnetOptions>();
  CLI::App* testnet = app.add_subcommand("testnet", "A local testnet: a validator and miners on loopback");
  testnet->require_subcommand(1);
  for (CLI::App* command :
       {testnet->add_subcommand("run", "Prepare, start the validator and the miners, print each round; Ctrl-C stops"),
        testnet->add_subcommand("prepare", "Make the base model (cached), the datasets and the miners' keys"),
        testnet->add_subcommand("watch",
                                "Print each scored round's leaderboard and the weights of a running testnet")}) {
    command->add_option("--dir", options->dir, "The testnet's directory (the daemons' working directory)")
        ->capture_default_str();
    command->add_option("--configs", options->configs,
                        "The directory with testnet.json and the daemons' configs (default: configs/testnet)");
    command->add_option("--cache", options->cache, "Base model cache (default: ~/.cache/gradients/base-models)");
    command->add_option("--rounds", options->rounds, "Stop after this many scored rounds (0: until Ctrl-C)")
        ->capture_default_str();
    command->add_option("--timeout", options->timeout_seconds, "Give up after this many seconds (0: never)")
        ->capture_default_str();
    command->callback([options, name = command->get_name()] { ExitWith(RunTestnetCommand(name, *options)); });
  }
}

}  // namespace gradients::cli
