// `gradients`: the command-line tool. Only wiring lives here; each subcommand is a function in cli/.
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/inspect_command.h"
#include "cli/key_commands.h"
#include "cli/version.h"
#include "common/logging.h"

int main(int argc, char** argv) {
  CLI::App app{"Gradients: a competitive fine-tuning market. Tools for operators and miners."};
  app.require_subcommand(1);
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error, critical or off")
      ->capture_default_str();

  std::string key_out;
  CLI::App* keygen = app.add_subcommand("keygen", "Create an ed25519 identity key file (mode 0600)");
  keygen->add_option("--out", key_out, "Where to write the 32-byte seed; an existing file is never overwritten")
      ->required();

  std::string key_in;
  CLI::App* pubkey = app.add_subcommand("pubkey", "Print the public key of a key file in hex");
  pubkey->add_option("--key", key_in, "The key file")->required()->check(CLI::ExistingFile);

  std::string tensors_file;
  CLI::App* inspect = app.add_subcommand("inspect", "Validate a .safetensors file and print its tensors as JSON");
  inspect->add_option("file", tensors_file, "The .safetensors file")->required();

  CLI::App* version = app.add_subcommand("version", "Print the version and library versions");

  CLI11_PARSE(app, argc, argv);

  gradients::LogOptions log_options;
  log_options.level = log_level;
  if (gradients::Status status = gradients::ConfigureLogging(log_options); !status.ok()) {
    std::cerr << "gradients: " << status.message() << "\n";
    return 2;
  }

  if (*keygen) return gradients::cli::RunKeygen(key_out, std::cout, std::cerr);
  if (*pubkey) return gradients::cli::RunPubkey(key_in, std::cout, std::cerr);
  if (*inspect) return gradients::cli::RunInspect(tensors_file, std::cout, std::cerr);
  if (*version) {
    std::cout << gradients::cli::VersionString() << "\n";
    return 0;
  }
  return 2;
}
