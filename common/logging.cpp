#include "common/logging.h"

#include <chrono>
#include <mutex>
#include <vector>

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

namespace gradients::common {
namespace {

constexpr std::string_view kLevelNames[] = {"trace", "debug", "info", "warn", "error", "critical", "off"};

std::string_view Truncated(std::string_view message, size_t max_bytes, bool& truncated) {
  truncated = message.size() > max_bytes;
  return truncated ? message.substr(0, max_bytes) : message;
}

void AppendJsonEscaped(spdlog::memory_buf_t& dest, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      dest.push_back('\\');
      dest.push_back(c);
    } else if (u < 0x20) {
      const char escape[] = {'\\', 'u', '0', '0', kHex[u >> 4], kHex[u & 0xf]};
      dest.append(escape, escape + sizeof(escape));
    } else {
      dest.push_back(c);
    }
  }
}

void AppendTimestamp(spdlog::memory_buf_t& dest, spdlog::log_clock::time_point time) {
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[40];
  size_t n = std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &utc);
  n += std::snprintf(buffer + n, sizeof(buffer) - n, ".%03dZ", static_cast<int>(millis % 1000));
  dest.append(buffer, buffer + n);
}

// "2026-11-26T05:03:02.123Z info [validator] message", with control characters escaped so a
// hostile string cannot forge extra log lines.
class TextFormatter final : public spdlog::formatter {
 public:
  explicit TextFormatter(size_t max_bytes) : max_bytes_(max_bytes) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    AppendTimestamp(dest, msg.time);
    dest.push_back(' ');
    auto level = spdlog::level::to_string_view(msg.level);
    dest.append(level.data(), level.data() + level.size());
    dest.append(std::string_view(" ["));
    dest.append(msg.logger_name.data(), msg.logger_name.data() + msg.logger_name.size());
    dest.append(std::string_view("] "));
    bool truncated = false;
    std::string_view text = Truncated({msg.payload.data(), msg.payload.size()}, max_bytes_, truncated);
    for (char c : text) {
      if (static_cast<unsigned char>(c) < 0x20) {
        dest.push_back('?');
      } else {
        dest.push_back(c);
      }
    }
    if (truncated) dest.append(std::string_view(" [truncated]"));
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<TextFormatter>(max_bytes_); }

 private:
  size_t max_bytes_;
};

class JsonLineFormatter final : public spdlog::formatter {
 public:
  explicit JsonLineFormatter(size_t max_bytes) : max_bytes_(max_bytes) {}
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    dest.append(std::string_view("{\"time\":\""));
    AppendTimestamp(dest, msg.time);
    dest.append(std::string_view("\",\"level\":\""));
    auto level = spdlog::level::to_string_view(msg.level);
    dest.append(level.data(), level.data() + level.size());
    dest.append(std::string_view("\",\"logger\":\""));
    AppendJsonEscaped(dest, {msg.logger_name.data(), msg.logger_name.size()});
    dest.append(std::string_view("\",\"message\":\""));
    bool truncated = false;
    AppendJsonEscaped(dest, Truncated({msg.payload.data(), msg.payload.size()}, max_bytes_, truncated));
    dest.append(std::string_view(truncated ? "\",\"truncated\":true}\n" : "\"}\n"));
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLineFormatter>(max_bytes_);
  }

 private:
  size_t max_bytes_;
};

struct LoggingState {
  std::mutex mutex;
  std::vector<spdlog::sink_ptr> sinks{std::make_shared<spdlog::sinks::stderr_sink_mt>()};
  spdlog::level::level_enum level = spdlog::level::info;
};

LoggingState& State() {
  static LoggingState* state = [] {
    auto* s = new LoggingState;  // never destroyed: loggers may log during static destruction
    s->sinks.front()->set_formatter(std::make_unique<TextFormatter>(LogOptions{}.max_message_bytes));
    return s;
  }();
  return *state;
}

}  // namespace

void ReadConfig(ConfigReader& reader, LogOptions& options) {
  reader.OptionalChoice("level", options.level, {"trace", "debug", "info", "warn", "error", "critical", "off"})
      .Optional("json", options.json)
      .Optional("file", options.file)
      .Optional("max_message_bytes", options.max_message_bytes)
      .Check(options.max_message_bytes >= 64, "max_message_bytes", "must be at least 64");
}

Result<spdlog::level::level_enum> ParseLogLevel(std::string_view name) {
  for (size_t i = 0; i < std::size(kLevelNames); ++i) {
    if (kLevelNames[i] == name) return static_cast<spdlog::level::level_enum>(i);
  }
  return Status::InvalidArgument("unknown log level \"" + std::string(name.substr(0, 32)) +
                                 "\" (expected trace, debug, info, warn, error, critical or off)");
}

Status ConfigureLogging(const LogOptions& options) {
  GRADIENTS_ASSIGN_OR_RETURN(spdlog::level::level_enum level, ParseLogLevel(options.level));
  if (options.max_message_bytes < 64) return Status::InvalidArgument("log max_message_bytes must be at least 64");
  spdlog::sink_ptr sink;
  try {
    if (options.file.empty()) {
      sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    } else {
      sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file);
    }
  } catch (const spdlog::spdlog_ex& e) {
    return Status::IoError("opening log file " + options.file + ": " + e.what());
  }
  auto max_bytes = static_cast<size_t>(options.max_message_bytes);
  if (options.json) {
    sink->set_formatter(std::make_unique<JsonLineFormatter>(max_bytes));
  } else {
    sink->set_formatter(std::make_unique<TextFormatter>(max_bytes));
  }
  LoggingState& state = State();
  std::lock_guard lock(state.mutex);
  state.sinks = {sink};
  state.level = level;
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& logger) {
    logger->sinks() = state.sinks;
    logger->set_level(level);
  });
  return Status::Ok();
}

std::shared_ptr<spdlog::logger> GetLogger(std::string_view component) {
  LoggingState& state = State();
  std::lock_guard lock(state.mutex);
  std::string name(component);
  if (auto existing = spdlog::get(name)) return existing;
  auto logger = std::make_shared<spdlog::logger>(name, state.sinks.begin(), state.sinks.end());
  logger->set_level(state.level);
  logger->flush_on(spdlog::level::warn);
  spdlog::register_logger(logger);
  return logger;
}

}  // namespace gradients::common
