// The training speed the miner admits offers with (issue 6, Offers): measured on its device with
// the trainers' probe (trainers/training_speed.h) and kept in <work_dir>/calibration.json, so that
// a restart does not measure again (one entry per device and probe shape), beside what real jobs
// measured per device and model size. An unreadable or foreign
// file, or an entry that is not a measurement, is measured over, never trusted. Measure while the
// device is otherwise idle: the figure is kept.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "common/status.h"
#include "trainers/training_speed.h"

namespace gradients::miner {

// The stored speed of `device` ("cpu", "cuda", "cuda:N"), or a new measurement (stored) when there
// is none or `remeasure` is set.
common::Result<train::TrainingSpeed> CalibratedSpeed(const std::filesystem::path& work_dir, const std::string& device,
                                      bool remeasure = false, const train::TrainingSpeedProbe& probe = {});

// What real jobs reached on `device` training a base model of `parameters` (tokens per second over
// a whole search: loading and evaluation included), kept in the same file: a later offer of that
// model size is admitted with it rather than with the probe's compute rate scaled to the model.
void RecordJobSpeed(const std::filesystem::path& work_dir, const std::string& device, int64_t parameters,
                    double tokens_per_second);
std::optional<double> JobTokensPerSecond(const std::filesystem::path& work_dir, const std::string& device,
                                         int64_t parameters);

}  // namespace gradients::miner
