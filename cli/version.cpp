#include "cli/version.h"

#include <sodium.h>
#include <spdlog/version.h>

#include <nlohmann/json.hpp>

namespace gradients::cli {

std::string VersionString() {
  return std::string("gradients ") + GRADIENTS_VERSION + " (libsodium " + sodium_version_string() + ", spdlog " +
         std::to_string(SPDLOG_VER_MAJOR) + "." + std::to_string(SPDLOG_VER_MINOR) + "." +
         std::to_string(SPDLOG_VER_PATCH) + ", nlohmann-json " + std::to_string(NLOHMANN_JSON_VERSION_MAJOR) + "." +
         std::to_string(NLOHMANN_JSON_VERSION_MINOR) + "." + std::to_string(NLOHMANN_JSON_VERSION_PATCH) + ")";
}

}  // namespace gradients::cli
