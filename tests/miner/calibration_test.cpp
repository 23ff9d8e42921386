#include "miner/calibration.h"

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "tests/support/temp_dir.h"

namespace gradients {
namespace {

// A probe small enough for a test: well under a million parameters, a few milliseconds a step.
const TrainingSpeedProbe kProbe{.hidden_size = 64, .layers = 2, .heads = 4, .intermediate_size = 128,
                                .vocab_size = 256, .batch = 2, .sequence = 32, .warmup_steps = 1, .timed_steps = 2};

TEST(Calibration, MeasuresOnceAndReadsTheStoredSpeedAfterwards) {
  testing::TempDir dir;
  Result<TrainingSpeed> first = CalibratedSpeed(dir.path(), "cpu", false, kProbe);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(first->device, "cpu");
  EXPECT_GT(first->parameters, 0);
  EXPECT_LT(first->parameters, 1'000'000);
  EXPECT_GT(first->tokens_per_second, 0);
  EXPECT_DOUBLE_EQ(first->flops_per_second, first->tokens_per_second * 6 * static_cast<double>(first->parameters));

  // Read back, not measured again: a second measurement would not give the same figure to the bit.
  Result<TrainingSpeed> again = CalibratedSpeed(dir.path(), "cpu", false, kProbe);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->flops_per_second, first->flops_per_second);
  Result<TrainingSpeed> remeasured = CalibratedSpeed(dir.path(), "cpu", true, kProbe);
  ASSERT_TRUE(remeasured.ok());
  const nlohmann::json stored = nlohmann::json::parse(*ReadFileToString(dir.path() / "calibration.json", 1 << 20));
  EXPECT_EQ(stored["devices"]["cpu"]["flops_per_second"].get<double>(), remeasured->flops_per_second);
}

TEST(Calibration, AFileThatIsNotACalibrationIsMeasuredOver) {
  testing::TempDir dir;
  std::ofstream(dir.path() / "calibration.json") << "{\"devices\": {\"cpu\": {\"flops_per_second\": 1e30}}}";
  Result<TrainingSpeed> speed = CalibratedSpeed(dir.path(), "cpu", false, kProbe);
  ASSERT_TRUE(speed.ok()) << speed.status().ToString();
  EXPECT_LT(speed->flops_per_second, 1e30);  // no version: not trusted
  const nlohmann::json stored = nlohmann::json::parse(*ReadFileToString(dir.path() / "calibration.json", 1 << 20));
  EXPECT_EQ(stored["version"], 1);
}

TEST(Calibration, AProbeThatIsNotAModelOrADeviceThatIsNotThereIsAnError) {
  testing::TempDir dir;
  TrainingSpeedProbe odd = kProbe;
  odd.heads = 3;  // does not divide 64
  EXPECT_EQ(CalibratedSpeed(dir.path(), "cpu", false, odd).status().code(), StatusCode::kInvalidArgument);
  Result<TrainingSpeed> nowhere = CalibratedSpeed(dir.path(), "tpu", false, kProbe);
  ASSERT_FALSE(nowhere.ok());
  EXPECT_NE(nowhere.status().message().find("calibrating tpu"), std::string::npos) << nowhere.status().message();
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "calibration.json"));
}

}  // namespace
}  // namespace gradients
