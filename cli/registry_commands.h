// `gradients model add|list` and `gradients dataset add|list`: register base models and datasets in
// a validator's data directory (validator/state/registry.h) and list them. Each prints JSON and returns
// the process exit code; errors go to `err` as "gradients <command>: <message>".
#pragma once

#include <filesystem>
#include <ostream>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace gradients::cli {

struct RegisterArgs {
  std::filesystem::path data_dir;  // the validator's data directory
  std::filesystem::path path;      // a model directory, or a dataset file
  std::string name;                // default: the directory's or file's name
};

// Prints the record: {"hash", "name", "parameters", "files": [{"path", "bytes", "blob"}], "added_at_ms"}.
int RunModelAdd(const RegisterArgs& args, std::ostream& out, std::ostream& err);
// Prints {"hash", "name", "format", "bytes", "added_at_ms"}.
int RunDatasetAdd(const RegisterArgs& args, std::ostream& out, std::ostream& err);
// Print a JSON array of the records, oldest first.
int RunModelList(const std::filesystem::path& data_dir, std::ostream& out, std::ostream& err);
int RunDatasetList(const std::filesystem::path& data_dir, std::ostream& out, std::ostream& err);

// Declares `gradients model add|list` and `gradients dataset add|list` on `app`; each runs from its
// CLI11 callback and ends with its exit code.
void AddRegistryCommands(CLI::App& app);

}  // namespace gradients::cli
