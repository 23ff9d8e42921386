#include "cli/key_commands.h"

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

}  // namespace gradients::cli
