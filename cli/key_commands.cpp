#include "cli/key_commands.h"

#include <iostream>
#include <memory>
#include <string>

#include "cli/command_failure.h"
#include "common/keys.h"

namespace gradients::cli {

int RunKeygen(const std::filesystem::path& out_path, std::ostream& out, std::ostream& err) {
  common::SigningKey key = common::SigningKey::Generate();
  if (common::Status status = common::WriteKeyFile(out_path, key); !status.ok()) return Fail(err, "keygen", status);
  out << key.public_key().ToHex() << "\n";
  return 0;
}

int RunPubkey(const std::filesystem::path& key_path, std::ostream& out, std::ostream& err) {
  common::Result<common::SigningKey> key = common::ReadKeyFile(key_path);
  if (!key.ok()) return Fail(err, "pubkey", key.status());
  out << key->public_key().ToHex() << "\n";
  return 0;
}

void AddKeyCommands(CLI::App& app) {
  auto key_out = std::make_shared<std::string>();
  CLI::App* keygen = app.add_subcommand("keygen", "Create an ed25519 identity key file (mode 0600)");
  keygen->add_option("--out", *key_out, "Where to write the 32-byte seed; an existing file is never overwritten")
      ->required();
  keygen->callback([key_out] { ExitWith(RunKeygen(*key_out, std::cout, std::cerr)); });

  auto key_in = std::make_shared<std::string>();
  CLI::App* pubkey = app.add_subcommand("pubkey", "Print the public key of a key file in hex");
  pubkey->add_option("--key", *key_in, "The key file")->required()->check(CLI::ExistingFile);
  pubkey->callback([key_in] { ExitWith(RunPubkey(*key_in, std::cout, std::cerr)); });
}

}  // namespace gradients::cli
