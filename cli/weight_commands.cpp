#include "cli/weight_commands.h"

#include <fstream>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/admin_commands.h"
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

void AddWeightCommands(CLI::App& app) {
  struct WeightsCall {
    AdminConnection connection;
    int64_t history = 0;
    std::filesystem::path audit_file;
  };
  auto weights_call = std::make_shared<WeightsCall>();
  CLI::App* weights = app.add_subcommand("weights", "A running validator's latest reward weights as JSON");
  AddConnectionOptions(*weights, weights_call->connection);
  weights->add_option("--history", weights_call->history, "The last N weight sets instead, newest first");
  CLI::App* weights_recompute = weights->add_subcommand(
      "recompute", "Recompute every weight set of an audit export and check it equals the published weights");
  weights_recompute->add_option("--audit", weights_call->audit_file, "A file written by `gradients audit export`")
      ->required();
  weights_recompute->callback(
      [weights_call] { ExitWith(RunWeightsRecompute(weights_call->audit_file, std::cout, std::cerr)); });
  // CLI11 runs a parent's callback after its subcommand's: `weights recompute` is done by then.
  weights->callback([weights_call, weights_recompute] {
    if (*weights_recompute) return;
    ExitWith(RunWeights(weights_call->connection, weights_call->history, std::cout, std::cerr));
  });

  struct AuditCall {
    std::filesystem::path data_dir;
    std::filesystem::path out;
  };
  auto audit_call = std::make_shared<AuditCall>();
  CLI::App* audit = app.add_subcommand("audit", "Audit logs of a validator's data directory");
  audit->require_subcommand(1);
  CLI::App* audit_export = audit->add_subcommand(
      "export", "Every weight set with every input it was computed from, one JSON line each, oldest first");
  audit_export->add_option("--data-dir", audit_call->data_dir, "The validator's data directory")->required();
  audit_export->add_option("--out", audit_call->out, "Write to this file (durably) instead of stdout");
  audit_export->callback(
      [audit_call] { ExitWith(RunAuditExport(audit_call->data_dir, audit_call->out, std::cout, std::cerr)); });
}

}  // namespace gradients::cli
