#include "miner/calibration.h"

#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "common/logging.h"

namespace gradients {
namespace {

constexpr const char* kFile = "calibration.json";

// The devices' entries of a calibration file; empty for a file that is missing or not one.
nlohmann::json ReadEntries(const std::filesystem::path& path) {
  Result<std::string> text = ReadFileToString(path, 1 << 20);
  if (!text.ok()) return nlohmann::json::object();
  nlohmann::json file = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!file.is_object() || file.value("version", 0) != 1 || !file.contains("devices") || !file["devices"].is_object()) {
    GetLogger("miner")->warn("{}: not a calibration file; measuring again", path.string());
    return nlohmann::json::object();
  }
  return file["devices"];
}

}  // namespace

Result<TrainingSpeed> CalibratedSpeed(const std::filesystem::path& work_dir, const std::string& device, bool remeasure,
                                      const TrainingSpeedProbe& probe) {
  const std::filesystem::path path = work_dir / kFile;
  nlohmann::json devices = ReadEntries(path);
  if (!remeasure && devices.contains(device)) {
    const nlohmann::json& entry = devices[device];
    const double flops = entry.value("flops_per_second", 0.0), tokens = entry.value("tokens_per_second", 0.0);
    const int64_t parameters = entry.value("parameters", int64_t{0});
    if (flops > 0 && tokens > 0 && parameters > 0) {
      return TrainingSpeed{.device = entry.value("resolved", device), .parameters = parameters,
                           .tokens_per_second = tokens, .flops_per_second = flops};
    }
    GetLogger("miner")->warn("{}: the entry of {} is incomplete; measuring again", path.string(), device);
  }
  Result<TrainingSpeed> speed = MeasureTrainingSpeed(probe, device);
  if (!speed.ok()) return speed.status().WithContext("calibrating " + device);
  devices[device] = {{"resolved", speed->device},
                     {"parameters", speed->parameters},
                     {"tokens_per_second", speed->tokens_per_second},
                     {"flops_per_second", speed->flops_per_second}};
  const nlohmann::json file = {{"version", 1}, {"devices", devices}};
  GRADIENTS_RETURN_IF_ERROR(WriteFileDurably(path, file.dump(2) + "\n"));
  GetLogger("miner")->info("{} trains at {:.3g} FLOP/s ({:.0f} tokens/s on a {}-parameter probe)", speed->device,
                           speed->flops_per_second, speed->tokens_per_second, speed->parameters);
  return speed;
}

}  // namespace gradients
