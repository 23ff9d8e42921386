#include "cli/version.h"

#include <sodium.h>
#include <spdlog/version.h>

#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

namespace gradients::cli {

std::string VersionString() {
  return std::string("gradients ") + GRADIENTS_VERSION + " (libsodium " + sodium_version_string() + ", spdlog " +
         std::to_string(SPDLOG_VER_MAJOR) + "." + std::to_string(SPDLOG_VER_MINOR) + "." +
         std::to_string(SPDLOG_VER_PATCH) + ", nlohmann-json " + std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
         std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." + std::to_string(NLOHMANN_JSON_VERSION_PATCH) + ")";
}

void AddVersionCommand(CLI::App& app) {
  CLI::App* version = app.add_subcommand("version", "Print the version and library versions");
  version->callback([] { std::cout << VersionString() << "\n"; });
}

}  // namespace gradients::cli
