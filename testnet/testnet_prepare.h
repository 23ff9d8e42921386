// `gradients testnet prepare`'s work: what the daemons need in the testnet directory before they
// start.
#pragma once

#include <atomic>
#include <ostream>

#include "common/status.h"
#include "testnet/testnet_plan.h"

namespace gradients::testnet {

// Makes the base model (pretrained from the plan's corpus, or taken from the cache), writes the
// datasets and creates the miners' keys that do not exist yet, reporting each on `out`. Aborted
// ("stopped") when `stop` turns true first.
common::Status PrepareTestnetFiles(const TestnetOptions& options, const LoadedTestnet& testnet,
                                   const std::atomic<bool>& stop, std::ostream& out);

}  // namespace gradients::testnet
