#pragma once

#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace gradients::cli {

// "gradients 0.1.0 (libsodium 1.0.18)": the project version and the libraries it runs with.
std::string VersionString();

// Declares `gradients version` on `app`: prints VersionString().
void AddVersionCommand(CLI::App& app);

}  // namespace gradients::cli
