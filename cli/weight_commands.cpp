#include "cli/weight_commands.h"

#include <fstream>

#include <nlohmann/json.hpp>

#include "cli/command_failure.h"
#include "common/durable_file.h"
#include "validator/rewards/weight_sets.h"
#include "validator/state/data_directory.h"

namespace gradients::cli {

int RunAuditExport(const std::filesystem::path& data_dir, const std::filesystem::path& out_file, std::ostream& out,
                   std::ostream& err) {
  std::error_code error;
  if (!std::filesystem::exists(data_dir / "state.db", error)) {
    return Fail(err, "audit export", common::Status::NotFound(data_dir.string() + " holds no validator state (state.db)"));
  }
  common::Result<validator::DataDirectory> data = validator::OpenDataDirectory(data_dir);
  if (!data.ok()) return Fail(err, "audit export", data.status());
  common::Result<std::vector<validator::WeightSetRecord>> sets = data->store->ListWeightSets(0, 0, INT64_MAX);  // newest first
  if (!sets.ok()) return Fail(err, "audit export", sets.status());
  std::string lines;
  for (auto set = sets->rbegin(); set != sets->rend(); ++set) lines += validator::AuditLine(*set) + "\n";
  if (out_file.empty()) {
    out << lines;
    return 0;
  }
  if (common::Status status = common::WriteFileDurably(out_file, lines); !status.ok()) return Fail(err, "audit export", status);
  out << nlohmann::json{{"weight_sets", sets->size()}, {"out", out_file.string()}}.dump() << "\n";
  return 0;
}

int RunWeightsRecompute(const std::filesystem::path& audit_file, std::ostream& out, std::ostream& err) {
  std::ifstream in(audit_file);
  if (!in) return Fail(err, "weights recompute", common::Status::NotFound("cannot read " + audit_file.string()));
  int64_t count = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    ++count;
    if (common::Status status = validator::VerifyAuditLine(line); !status.ok()) {
      return Fail(err, "weights recompute", status.WithContext(audit_file.string() + ": line " + std::to_string(count)));
    }
  }
  out << nlohmann::json{{"weight_sets", count}, {"recomputed", count}}.dump() << "\n";
  return 0;
}

}  // namespace gradients::cli
