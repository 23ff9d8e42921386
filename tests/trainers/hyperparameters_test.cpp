#include "trainers/hyperparameters.h"

#include <cmath>

#include <gtest/gtest.h>

namespace gradients::train {
namespace {

common::Result<Hyperparameters> Parse(std::string_view text) {
  return common::ParseConfig<Hyperparameters>(nlohmann::json::parse(text), "hyperparameters");
}

TEST(Hyperparameters, DefaultsAreTheCommunityDefault) {
  Hyperparameters h = *Parse("{}");
  EXPECT_EQ(h.mode, TrainingMode::kLora);
  EXPECT_EQ(h.lora.r, 8);
  EXPECT_EQ(h.lora.alpha, 16);
  EXPECT_EQ(h.lora.dropout, 0.05);
  EXPECT_EQ(h.lora.target_modules.size(), 7u);
  EXPECT_EQ(h.learning_rate, 2e-4);
  EXPECT_EQ(h.lr_scheduler, LearningRateSchedule::kCosine);
  EXPECT_EQ(h.warmup_steps, 10);
  EXPECT_EQ(h.micro_batch_size * h.gradient_accumulation_steps, 8);
  EXPECT_EQ(h.epochs, 1);
}

TEST(Hyperparameters, RoundTripThroughJson) {
  Hyperparameters h = *Parse(R"({"mode": "full", "learning_rate": 3e-5, "lr_scheduler": "linear",
                                 "warmup_ratio": 0.1, "lora": {"r": 32, "use_rslora": true}, "max_steps": 100})");
  Hyperparameters again = *common::ParseConfig<Hyperparameters>(h.ToJson(), "hyperparameters");
  EXPECT_EQ(again.ToJson(), h.ToJson());
  EXPECT_EQ(again.mode, TrainingMode::kFull);
  EXPECT_EQ(again.lr_scheduler, LearningRateSchedule::kLinear);
  EXPECT_EQ(h.ToJson()["mode"], "full");
  EXPECT_EQ(h.ToJson()["lr_scheduler"], "linear");
  EXPECT_EQ(again.lora.r, 32);
  EXPECT_TRUE(again.lora.use_rslora);
}

TEST(Hyperparameters, ErrorsNameTheField) {
  EXPECT_EQ(Parse(R"({"learning_rate": 5})").status().message(), "hyperparameters.learning_rate: must be in (0, 1]");
  EXPECT_EQ(Parse(R"({"lora": {"r": 0}})").status().message(), "hyperparameters.lora.r: must be in 1..4096");
  EXPECT_EQ(Parse(R"({"lr_scheduler": "step"})").status().message(),
            "hyperparameters.lr_scheduler: expected one of \"constant\", \"linear\", \"cosine\", got \"step\"");
  EXPECT_EQ(Parse(R"({"mode": "qlora"})").status().message(),
            "hyperparameters.mode: expected one of \"lora\", \"full\", got \"qlora\"");
  EXPECT_EQ(Parse(R"({"micro_batch": 4})").status().message(),
            "hyperparameters.micro_batch: unknown key (did you mean \"micro_batch_size\"?)");
  EXPECT_EQ(Parse(R"({"epochs": "one"})").status().message(), "hyperparameters.epochs: expected a number, got \"one\"");
}

TEST(Hyperparameters, WarmupRatioIsRoundedUpAsTransformersDoes) {
  Hyperparameters h;
  EXPECT_EQ(h.WarmupSteps(1000), 10);
  h.warmup_ratio = 0.03;
  EXPECT_EQ(h.WarmupSteps(1000), 30);
  EXPECT_EQ(h.WarmupSteps(101), 4);  // ceil(3.03)
}

TEST(LearningRateMultiplier, FollowsTransformersSchedules) {
  // Warmup: step / warmup for every scheduler.
  for (LearningRateSchedule scheduler :
       {LearningRateSchedule::kConstant, LearningRateSchedule::kLinear, LearningRateSchedule::kCosine}) {
    EXPECT_DOUBLE_EQ(LearningRateMultiplier(scheduler, 0, 10, 110), 0.0);
    EXPECT_DOUBLE_EQ(LearningRateMultiplier(scheduler, 5, 10, 110), 0.5);
    EXPECT_DOUBLE_EQ(LearningRateMultiplier(scheduler, 10, 10, 110), 1.0);
  }
  EXPECT_DOUBLE_EQ(LearningRateMultiplier(LearningRateSchedule::kConstant, 100, 10, 110), 1.0);
  EXPECT_DOUBLE_EQ(LearningRateMultiplier(LearningRateSchedule::kLinear, 60, 10, 110), 0.5);
  EXPECT_DOUBLE_EQ(LearningRateMultiplier(LearningRateSchedule::kLinear, 110, 10, 110), 0.0);
  EXPECT_NEAR(LearningRateMultiplier(LearningRateSchedule::kCosine, 60, 10, 110), 0.5, 1e-12);
  EXPECT_NEAR(LearningRateMultiplier(LearningRateSchedule::kCosine, 35, 10, 110), 0.5 * (1 + std::cos(M_PI * 0.25)), 1e-12);
  EXPECT_NEAR(LearningRateMultiplier(LearningRateSchedule::kCosine, 110, 10, 110), 0.0, 1e-12);
}

}  // namespace
}  // namespace gradients::train

namespace gradients::train {
namespace {

TEST(Hyperparameters, TheExampleConfigHoldsExactlyTheDefaults) {
  const std::filesystem::path example =
      std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "../../configs/hyperparameters.example.json";
  common::Result<Hyperparameters> loaded = common::LoadConfigFile<Hyperparameters>(example, "hyperparameters");
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
  EXPECT_EQ(loaded->ToJson(), Hyperparameters().ToJson());
}

}  // namespace
}  // namespace gradients::train
