// Logging: one named spdlog logger per component ("validator", "miner", "trainer", "cli"),
// all writing through the same sinks at the configured level, as text or as JSON lines.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "common/config.h"
#include "common/status.h"

namespace gradients::common {

struct LogOptions {
  // trace, debug, info, warn, error, critical or off.
  std::string level = "info";
  // One JSON object per line ({"time","level","logger","message"}) instead of text.
  bool json = false;
  // Append to this file instead of writing to stderr.
  std::string file;
  // Longer messages are cut, so that no input can make a log line unbounded.
  int max_message_bytes = 8192;
};

void ReadConfig(ConfigReader& reader, LogOptions& options);

Result<spdlog::level::level_enum> ParseLogLevel(std::string_view name);

// Applies `options` to every component logger, existing and future. Safe to call again
// (for example after the command line overrides the config file's level).
Status ConfigureLogging(const LogOptions& options);

// The logger of `component`, created on first use with the current configuration.
std::shared_ptr<spdlog::logger> GetLogger(std::string_view component);

}  // namespace gradients::common
