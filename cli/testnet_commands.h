// `gradients testnet run|prepare|watch`: the local testnet (testnet/testnet.h).
#pragma once

namespace CLI {
class App;
}  // namespace CLI

namespace gradients::cli {

// Declares the three on `app`; each runs from its CLI11 callback and ends with its exit code. While
// one runs, the first SIGINT, SIGTERM or SIGHUP stops it cleanly and a second kills the daemons.
void AddTestnetCommands(CLI::App& app);

}  // namespace gradients::cli
