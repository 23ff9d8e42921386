// `gradients keygen` and `gradients pubkey`: create an identity and show its public key.
#pragma once

#include <filesystem>
#include <ostream>

namespace CLI {
class App;
}  // namespace CLI

namespace gradients::cli {

// Writes a new ed25519 seed to `out_path` (mode 0600; never overwrites) and prints the public
// key in hex. Returns the process exit code.
int RunKeygen(const std::filesystem::path& out_path, std::ostream& out, std::ostream& err);

// Prints the hex public key of the key file at `key_path`.
int RunPubkey(const std::filesystem::path& key_path, std::ostream& out, std::ostream& err);

// Declares both on `app`; each runs from its CLI11 callback and ends with its exit code.
void AddKeyCommands(CLI::App& app);

}  // namespace gradients::cli
