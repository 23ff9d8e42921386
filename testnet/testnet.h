// The local testnet: one validator and several miners on loopback, run from one directory.
//   prepare: the base model (pretrained here, cached), the task datasets and the miners' keys;
//   watch:   each scored round's leaderboard (miner, strategy, test loss, points) and the weights;
//   run:     prepare, start the daemons, watch until Ctrl-C (or N rounds), stop them all cleanly.
// What it runs is in a configs directory (testnet/testnet_plan.h).
#pragma once

#include <atomic>
#include <ostream>

#include "testnet/testnet_plan.h"

namespace gradients::testnet {

// What Ctrl-C (SIGINT, SIGTERM, SIGHUP) asks of a running command: the first `stop` (finish
// cleanly: the daemons get SIGTERM and time to checkpoint), a second one `force` (kill them now).
struct TestnetSignals {
  std::atomic<bool> stop{false};
  std::atomic<bool> force{false};
};

// Each returns the process exit code; progress goes to `out`, errors to `err`.
int PrepareTestnet(const TestnetOptions& options, const TestnetSignals& signals, std::ostream& out, std::ostream& err);
int WatchTestnet(const TestnetOptions& options, const TestnetSignals& signals, std::ostream& out, std::ostream& err);
int RunTestnet(const TestnetOptions& options, const TestnetSignals& signals, std::ostream& out, std::ostream& err);

}  // namespace gradients::testnet
