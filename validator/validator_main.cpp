// `gradients-validator --config FILE`: loads the config, starts the validator, and stops it cleanly
// on SIGINT or SIGTERM. Everything it wires lives in validator/ (ValidatorDaemon).
#include <malloc.h>

#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "common/clock.h"
#include "common/config.h"
#include "common/logging.h"
#include "common/stop_signals.h"
#include "validator/validator_daemon.h"

namespace {

// An upload arrives as a stream of 1 MiB messages: gRPC's receive buffers and each chunk's bytes are
// allocated, hashed, written and freed again a thousand times a GiB. With glibc's defaults those
// blocks go back to the kernel on free (an unmapped block, or a heap trimmed past 128 KiB) and come
// back as fresh zeroed pages on the next allocation: page faults and page clearing cost more CPU
// than the network copy (1 GiB took 2.1 s on loopback to tmpfs, 1.7 s with the blocks kept; bench/RESULTS.md).
// Freed blocks stay in the heap for reuse instead; the validator's peak memory is bounded by its
// upload limits (open uploads x queued chunks), which is what it keeps.
void KeepFreedBlocksForReuse() {
  constexpr int kMmapThreshold = 32 << 20;   // glibc's largest; blocks under it come from the heap
  constexpr int kTrimThreshold = 256 << 20;  // above glibc's 64 MiB thread heaps: those are never trimmed
  if (mallopt(M_MMAP_THRESHOLD, kMmapThreshold) != 1 || mallopt(M_TRIM_THRESHOLD, kTrimThreshold) != 1) {
    gradients::common::GetLogger("validator")->warn("malloc tuning refused; uploads will be slower");
  }
}

}  // namespace

int main(int argc, char** argv) {
  KeepFreedBlocksForReuse();
  CLI::App app{"gradients-validator: publishes fine-tuning tasks to miners and scores what they return"};
  std::string config_path, log_level;
  app.add_option("--config", config_path, "The validator's JSON config (configs/validator.example.json)")->required();
  app.add_option("--log-level", log_level, "Overrides the config's log.level");
  CLI11_PARSE(app, argc, argv);

  gradients::common::Result<gradients::validator::ValidatorOptions> options =
      gradients::common::LoadConfigFile<gradients::validator::ValidatorOptions>(config_path, "validator");
  if (!options.ok()) {
    std::cerr << "gradients-validator: " << options.status().message() << "\n";
    return 2;
  }
  if (!log_level.empty()) options->log.level = log_level;
  if (gradients::common::Status status = gradients::common::ConfigureLogging(options->log); !status.ok()) {
    std::cerr << "gradients-validator: " << status.message() << "\n";
    return 2;
  }
  gradients::common::StopSignals stop_signals;  // before any thread starts

  gradients::common::Result<std::unique_ptr<gradients::validator::ValidatorDaemon>> daemon =
      gradients::validator::ValidatorDaemon::Start(*options, gradients::common::SystemClockMs);
  if (!daemon.ok()) {
    std::cerr << "gradients-validator: " << daemon.status().message() << "\n";
    return 1;
  }
  const char* signal_name = stop_signals.Wait();
  gradients::common::GetLogger("validator")->info("{}: stopping", signal_name);
  (*daemon)->Shutdown();
  return 0;
}
