// `gradients inspect FILE.safetensors`: validates a safetensors file with the same strict reader
// the validator uses on miners' uploads, and prints its tensors as JSON.
#pragma once

#include <filesystem>
#include <ostream>

namespace gradients::cli {

// On success prints {"file", "header_bytes", "metadata", "tensors": [{"name", "dtype", "shape",
// "data_offsets"}]} and returns 0; otherwise prints the reader's error to `err` and returns 1.
int RunInspect(const std::filesystem::path& path, std::ostream& out, std::ostream& err);

}  // namespace gradients::cli
