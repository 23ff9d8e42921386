// Watching a running testnet through the validator's Admin service: each task's status as it
// changes, each scored round's leaderboard (miner, strategy, test loss, points), and the first
// weight set computed after it.
#pragma once

#include <atomic>
#include <functional>
#include <ostream>
#include <string>

#include "testnet/testnet_plan.h"

namespace gradients::testnet {

// Prints the rounds to `out` until options.rounds rounds are scored and weighted, `stop` turns true,
// options.timeout_seconds pass, the validator does not answer for a minute, or `dead_daemon` (when
// set) names a daemon that ended. 0 when the rounds were done or stop was asked for; else 1, the
// reason on `err`.
int WatchRounds(const TestnetOptions& options, const LoadedTestnet& testnet, const std::atomic<bool>& stop,
                const std::function<std::string()>& dead_daemon, std::ostream& out, std::ostream& err);

}  // namespace gradients::testnet
