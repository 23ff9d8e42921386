// `gradients miner status --config FILE`: what the miner configured by FILE is doing, read from its
// work directory (miner/job_journal.h), so it works whether the daemon runs or not. Prints a JSON
// array, one object per job, newest deadline first: task, phase, strategy, trials done and planned,
// best validation loss, the current run's step, seconds left to the deadline, and the detail
// (why a job failed). Returns the process exit code; errors go to `err`.
#pragma once

#include <filesystem>
#include <ostream>

#include "common/clock.h"

namespace CLI {
class App;
}  // namespace CLI

namespace gradients::cli {

int RunMinerStatus(const std::filesystem::path& config_path, std::ostream& out, std::ostream& err, common::ClockMs now_ms);

// Declares `gradients miner status` on `app`; it runs from its CLI11 callback and ends with its exit
// code.
void AddMinerCommands(CLI::App& app);

}  // namespace gradients::cli
