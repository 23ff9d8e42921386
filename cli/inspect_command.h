// `gradients inspect FILE.safetensors`: validates a safetensors file with the same strict reader
// the validator uses on miners' uploads, and prints its tensors as JSON.
#pragma once

#include <filesystem>
#include <ostream>

namespace CLI {
class App;
}  // namespace CLI

namespace gradients::cli {

// On success prints {"file", "header_bytes", "metadata", "tensors": [{"name", "dtype", "shape",
// "data_offsets"}]} and returns 0; otherwise prints the reader's error to `err` and returns 1.
int RunInspect(const std::filesystem::path& path, std::ostream& out, std::ostream& err);

// Declares `gradients inspect` on `app`; it runs from its CLI11 callback and ends with its exit code.
void AddInspectCommand(CLI::App& app);

}  // namespace gradients::cli
