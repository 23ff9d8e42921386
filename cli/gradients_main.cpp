// `gradients`: the command-line tool. Only wiring lives here: each command file of cli/ declares its
// subcommands, their flags and what they run (Add<X>Command), and ends with the exit code.
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>

#include "cli/corpus_commands.h"
#include "cli/inspect_command.h"
#include "cli/key_commands.h"
#include "cli/merge_command.h"
#include "cli/model_commands.h"
#ifdef GRADIENTS_CLI_REGISTRY
#include "cli/admin_commands.h"
#include "cli/registry_commands.h"
#include "cli/weight_commands.h"
#endif
#ifdef GRADIENTS_CLI_MINER
#include "cli/miner_commands.h"
#endif
#ifdef GRADIENTS_CLI_TESTNET
#include "cli/testnet_commands.h"
#endif
#include "cli/tokenize_command.h"
#include "cli/train_command.h"
#include "cli/version.h"
#include "common/logging.h"

int main(int argc, char** argv) {
  CLI::App app{"Gradients: a competitive fine-tuning market. Tools for operators and miners."};
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")->capture_default_str();
  // CLI11 calls this once the whole command line has parsed, before any command's callback runs.
  app.parse_complete_callback([&log_level] {
    gradients::common::LogOptions log_options;
    log_options.level = log_level;
    if (gradients::common::Status status = gradients::common::ConfigureLogging(log_options); !status.ok()) {
      std::cerr << "gradients: " << status.message() << "\n";
      throw CLI::RuntimeError(2);
    }
  });

  // In this order in --help.
  gradients::cli::AddKeyCommands(app);
  gradients::cli::AddInspectCommand(app);
  gradients::cli::AddModelCommands(app);
  gradients::cli::AddMergeCommand(app);
  gradients::cli::AddTrainCommand(app);
  gradients::cli::AddTokenizeCommand(app);
  gradients::cli::AddCorpusCommands(app);
#ifdef GRADIENTS_CLI_TESTNET
  gradients::cli::AddTestnetCommands(app);
#endif
  gradients::cli::AddVersionCommand(app);
#ifdef GRADIENTS_CLI_REGISTRY
  gradients::cli::AddRegistryCommands(app);
  gradients::cli::AddAdminCommands(app);
  gradients::cli::AddWeightCommands(app);
#endif
#ifdef GRADIENTS_CLI_MINER
  gradients::cli::AddMinerCommands(app);
#endif

  // A command's callback ends a failure with CLI::RuntimeError(exit code), which CLI11_PARSE returns.
  CLI11_PARSE(app, argc, argv);
  return 0;
}
