// Auditing the reward weights (`gradients weights` itself asks a running validator: admin_commands.h):
//   gradients audit export --data-dir D        every weight set with every input it was computed
//                                              from, one JSON line each (oldest first);
//   gradients weights recompute --audit FILE   recomputes each set of such an export and checks it
//                                              equals the published weights bit for bit.
// Each returns the process exit code; errors go to `err` as "gradients <command>: <message>".
#pragma once

#include <filesystem>
#include <ostream>

namespace CLI {
class App;
}  // namespace CLI

namespace gradients::cli {

int RunAuditExport(const std::filesystem::path& data_dir, const std::filesystem::path& out_file, std::ostream& out,
                   std::ostream& err);
// Prints {"weight_sets": N, "recomputed": N}; exit 1 naming the first set that differs.
int RunWeightsRecompute(const std::filesystem::path& audit_file, std::ostream& out, std::ostream& err);

// Declares `gradients weights` (the latest sets, admin_commands.h), `weights recompute` and
// `audit export` on `app`; each runs from its CLI11 callback and ends with its exit code.
void AddWeightCommands(CLI::App& app);

}  // namespace gradients::cli
