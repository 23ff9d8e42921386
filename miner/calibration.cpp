#include "miner/calibration.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/durable_file.h"
#include "common/logging.h"

namespace gradients::miner {
namespace {

constexpr const char* kFile = "calibration.json";

// Entries are per device and probe: a figure measured with another probe shape is not reused.
std::string EntryKey(const std::string& device, const train::TrainingSpeedProbe& probe) {
  return device + " " + std::to_string(probe.hidden_size) + "x" + std::to_string(probe.layers) + " heads " +
         std::to_string(probe.heads) + " ffn " + std::to_string(probe.intermediate_size) + " vocab " +
         std::to_string(probe.vocab_size) + " rows " + std::to_string(probe.batch) + "x" +
         std::to_string(probe.sequence);
}

// The entries of a calibration file; empty for a file that is missing or not one.
nlohmann::json ReadEntries(const std::filesystem::path& path) {
  common::Result<std::string> text = common::ReadFileToString(path, 1 << 20);
  if (!text.ok()) return nlohmann::json::object();
  const nlohmann::json file = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  const auto version = file.is_object() ? file.find("version") : file.end();
  const auto entries = file.is_object() ? file.find("entries") : file.end();
  if (!file.is_object() || version == file.end() || *version != 1 || entries == file.end() || !entries->is_object()) {
    common::GetLogger("miner")->warn("{}: not a calibration file; measuring again", path.string());
    return nlohmann::json::object();
  }
  return *entries;
}

// A stored entry, when it holds a usable measurement.
std::optional<train::TrainingSpeed> ReadEntry(const nlohmann::json& entry) {
  if (!entry.is_object()) return std::nullopt;
  const auto number = [&](const char* key) -> double {
    const auto value = entry.find(key);
    return value != entry.end() && value->is_number() ? value->get<double>() : 0.0;
  };
  const auto resolved = entry.find("resolved");
  const double flops = number("flops_per_second"), tokens = number("tokens_per_second"),
               parameters = number("parameters");
  if (!(std::isfinite(flops) && flops > 0 && std::isfinite(tokens) && tokens > 0 && parameters >= 1) ||
      resolved == entry.end() || !resolved->is_string()) {
    return std::nullopt;
  }
  return train::TrainingSpeed{.device = resolved->get<std::string>(),
                       .parameters = static_cast<int64_t>(parameters),
                       .tokens_per_second = tokens,
                       .flops_per_second = flops};
}

nlohmann::json EntryJson(const train::TrainingSpeed& speed) {
  return {{"resolved", speed.device},
          {"parameters", speed.parameters},
          {"tokens_per_second", speed.tokens_per_second},
          {"flops_per_second", speed.flops_per_second}};
}

std::string JobEntryKey(const std::string& device, int64_t parameters) {
  return device + " model " + std::to_string(parameters);
}

common::Status WriteEntries(const std::filesystem::path& path, const nlohmann::json& entries) {
  const nlohmann::json file = {{"version", 1}, {"entries", entries}};
  return common::WriteFileDurably(path, file.dump(2) + "\n");
}

}  // namespace

common::Result<train::TrainingSpeed> CalibratedSpeed(const std::filesystem::path& work_dir, const std::string& device, bool remeasure,
                                      const train::TrainingSpeedProbe& probe) {
  const std::filesystem::path path = work_dir / kFile;
  const std::string key = EntryKey(device, probe);
  nlohmann::json entries = ReadEntries(path);
  if (!remeasure && entries.contains(key)) {
    if (std::optional<train::TrainingSpeed> stored = ReadEntry(entries[key])) return *stored;
    common::GetLogger("miner")->warn("{}: the entry \"{}\" is not a measurement; measuring again", path.string(), key);
  }
  common::Result<train::TrainingSpeed> speed = train::MeasureTrainingSpeed(probe, device);
  if (!speed.ok()) return speed.status().WithContext("calibrating " + device);
  common::GetLogger("miner")->info("{} trains at {:.3g} FLOP/s ({:.0f} tokens/s on a {}-parameter probe)", speed->device,
                           speed->flops_per_second, speed->tokens_per_second, speed->parameters);
  entries[key] = EntryJson(*speed);
  // A miner that cannot keep the figure still has it: it measures again at its next start.
  if (common::Status written = WriteEntries(path, entries); !written.ok()) {
    common::GetLogger("miner")->warn("keeping the calibration: {}", written.message());
  }
  return speed;
}

void RecordJobSpeed(const std::filesystem::path& work_dir, const std::string& device, int64_t parameters,
                    double tokens_per_second) {
  if (!(std::isfinite(tokens_per_second) && tokens_per_second > 0) || parameters < 1) return;
  const std::filesystem::path path = work_dir / kFile;
  nlohmann::json entries = ReadEntries(path);
  entries[JobEntryKey(device, parameters)] =
      EntryJson({.device = device,
                 .parameters = parameters,
                 .tokens_per_second = tokens_per_second,
                 .flops_per_second = 6.0 * static_cast<double>(parameters) * tokens_per_second});
  if (common::Status written = WriteEntries(path, entries); !written.ok()) {
    common::GetLogger("miner")->warn("keeping a job's speed: {}", written.message());
  }
}

std::optional<double> JobTokensPerSecond(const std::filesystem::path& work_dir, const std::string& device,
                                         int64_t parameters) {
  const nlohmann::json entries = ReadEntries(work_dir / kFile);
  const auto entry = entries.find(JobEntryKey(device, parameters));
  if (entry == entries.end()) return std::nullopt;
  std::optional<train::TrainingSpeed> speed = ReadEntry(*entry);
  if (!speed) return std::nullopt;
  return speed->tokens_per_second;
}

}  // namespace gradients::miner
