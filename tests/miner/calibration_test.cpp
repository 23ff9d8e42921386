#include "miner/calibration.h"

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "tests/support/temp_dir.h"

namespace gradients::miner {
namespace {

// A probe small enough for a test: well under a million parameters, a few milliseconds a step.
const train::TrainingSpeedProbe kProbe{.hidden_size = 64,
                                .layers = 2,
                                .heads = 4,
                                .intermediate_size = 128,
                                .vocab_size = 256,
                                .batch = 2,
                                .sequence = 32,
                                .warmup_steps = 1,
                                .timed_steps = 2};

nlohmann::json ReadCalibration(const std::filesystem::path& dir) {
  return nlohmann::json::parse(*common::ReadFileToString(dir / "calibration.json", 1 << 20));
}

TEST(Calibration, MeasuresOnceAndReadsTheStoredSpeedAfterwards) {
  testing::TempDir dir;
  common::Result<train::TrainingSpeed> first = CalibratedSpeed(dir.path(), "cpu", false, kProbe);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->device, "cpu");
  EXPECT_GT(first->parameters, 0);
  EXPECT_LT(first->parameters, 1'000'000);
  EXPECT_GT(first->tokens_per_second, 0);
  EXPECT_DOUBLE_EQ(first->flops_per_second, first->tokens_per_second * 6 * static_cast<double>(first->parameters));

  // What is stored is what a restart reads: a figure put there by hand comes back unmeasured...
  nlohmann::json file = ReadCalibration(dir.path());
  ASSERT_EQ(file["entries"].size(), 1u);
  nlohmann::json& entry = file["entries"].begin().value();
  entry["flops_per_second"] = 123.0;
  std::ofstream(dir.path() / "calibration.json") << file.dump();
  EXPECT_EQ(CalibratedSpeed(dir.path(), "cpu", false, kProbe)->flops_per_second, 123.0);
  // ...until a new measurement is asked for, which replaces it; another probe shape has its own.
  common::Result<train::TrainingSpeed> remeasured = CalibratedSpeed(dir.path(), "cpu", true, kProbe);
  ASSERT_TRUE(remeasured.ok());
  EXPECT_NE(remeasured->flops_per_second, 123.0);
  EXPECT_EQ(ReadCalibration(dir.path())["entries"].begin().value()["flops_per_second"].get<double>(),
            remeasured->flops_per_second);
  train::TrainingSpeedProbe wider = kProbe;
  wider.hidden_size = 128;
  ASSERT_TRUE(CalibratedSpeed(dir.path(), "cpu", false, wider).ok());
  EXPECT_EQ(ReadCalibration(dir.path())["entries"].size(), 2u);
}

TEST(Calibration, AJobsMeasuredSpeedIsKeptPerDeviceAndModelSizeBesideTheProbes) {
  testing::TempDir dir;
  ASSERT_TRUE(CalibratedSpeed(dir.path(), "cpu", false, kProbe).ok());
  EXPECT_FALSE(JobTokensPerSecond(dir.path(), "cpu", 1'000'000).has_value());
  RecordJobSpeed(dir.path(), "cpu", 1'000'000, 2500.0);
  RecordJobSpeed(dir.path(), "cpu", 2'000'000, -1.0);  // not a measurement: not kept
  EXPECT_EQ(JobTokensPerSecond(dir.path(), "cpu", 1'000'000), 2500.0);
  EXPECT_FALSE(JobTokensPerSecond(dir.path(), "cuda:0", 1'000'000).has_value());
  EXPECT_FALSE(JobTokensPerSecond(dir.path(), "cpu", 2'000'000).has_value());
  // The probe's entry is still there and still read without measuring again.
  EXPECT_EQ(ReadCalibration(dir.path())["entries"].size(), 2u);
  nlohmann::json file = ReadCalibration(dir.path());
  for (auto& [key, entry] : file["entries"].items()) {
    if (key.find(" model ") == std::string::npos) entry["flops_per_second"] = 77.0;
  }
  std::ofstream(dir.path() / "calibration.json") << file.dump();
  EXPECT_EQ(CalibratedSpeed(dir.path(), "cpu", false, kProbe)->flops_per_second, 77.0);
}

TEST(Calibration, AFileOrEntryThatIsNotACalibrationIsMeasuredOverNotTrusted) {
  testing::TempDir dir;
  for (const char* text : {"{\"entries\": {}}", "{\"version\": \"1\", \"entries\": []}", "[1, 2]", "not json",
                           "{\"version\": 1, \"entries\": {\"cpu\": null}}"}) {
    std::ofstream(dir.path() / "calibration.json") << text;
    common::Result<train::TrainingSpeed> speed = CalibratedSpeed(dir.path(), "cpu", false, kProbe);
    ASSERT_TRUE(speed.ok()) << text << ": " << speed.status().ToString();
    EXPECT_EQ(ReadCalibration(dir.path())["version"], 1) << text;
  }
  // An entry of the right key whose figures are not numbers.
  nlohmann::json file = ReadCalibration(dir.path());
  for (auto& [key, entry] : file["entries"].items()) entry["flops_per_second"] = nullptr;
  std::ofstream(dir.path() / "calibration.json") << file.dump();
  common::Result<train::TrainingSpeed> speed = CalibratedSpeed(dir.path(), "cpu", false, kProbe);
  ASSERT_TRUE(speed.ok()) << speed.status().ToString();
  EXPECT_GT(speed->flops_per_second, 0);
}

TEST(Calibration, AProbeThatIsNotAModelOrADeviceThatIsNotThereIsAnError) {
  testing::TempDir dir;
  train::TrainingSpeedProbe odd = kProbe;
  odd.heads = 3;  // does not divide 64
  EXPECT_EQ(CalibratedSpeed(dir.path(), "cpu", false, odd).status().code(), common::StatusCode::kInvalidArgument);
  common::Result<train::TrainingSpeed> nowhere = CalibratedSpeed(dir.path(), "tpu", false, kProbe);
  ASSERT_FALSE(nowhere.ok());
  EXPECT_NE(nowhere.status().message().find("calibrating tpu"), std::string::npos) << nowhere.status().message();
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "calibration.json"));
}

}  // namespace
}  // namespace gradients::miner
