#include "cli/miner_commands.h"

#include <algorithm>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command_failure.h"
#include "common/config.h"
#include "miner/job_journal.h"
#include "miner/miner_options.h"

namespace gradients::cli {

int RunMinerStatus(const std::filesystem::path& config_path, std::ostream& out, std::ostream& err, common::ClockMs now_ms) {
  common::Result<miner::MinerOptions> options = common::LoadConfigFile<miner::MinerOptions>(config_path, "miner");
  if (!options.ok()) {
    err << "gradients miner status: " << options.status().message() << "\n";
    return 2;
  }
  const int64_t now = now_ms();
  std::vector<nlohmann::json> jobs;
  for (const miner::JobListing& job : miner::ListJobs(options->work_dir)) {
    if (!job.status.ok()) {
      jobs.push_back({{"dir", job.dir.string()}, {"error", job.status.status().message()}, {"deadline_ms", 0}});
      continue;
    }
    const miner::JobStatus& status = *job.status;
    nlohmann::json entry = miner::JobStatusJson(status);
    entry["seconds_left"] = std::max<int64_t>(0, common::MsOfTimePoint(status.deadline) - now) / 1000;
    jobs.push_back(std::move(entry));
  }
  std::stable_sort(jobs.begin(), jobs.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a["deadline_ms"].get<int64_t>() > b["deadline_ms"].get<int64_t>();
  });
  out << nlohmann::json(jobs).dump(2) << "\n";
  return 0;
}

void AddMinerCommands(CLI::App& app) {
  auto miner_config = std::make_shared<std::filesystem::path>();
  CLI::App* miner = app.add_subcommand("miner", "A miner's jobs, read from its work directory");
  miner->require_subcommand(1);
  CLI::App* miner_status =
      miner->add_subcommand("status", "Each job's phase, trials, best validation loss and time left, as JSON");
  miner_status->add_option("--config", *miner_config, "The miner's JSON config")->required();
  miner_status->callback([miner_config] {
    ExitWith(RunMinerStatus(*miner_config, std::cout, std::cerr, common::SystemClockMs));
  });
}

}  // namespace gradients::cli
