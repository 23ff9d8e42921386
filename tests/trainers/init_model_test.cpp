#include "trainers/init_model.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include "trainers/model_loader.h"
#include "tests/support/temp_dir.h"

namespace gradients::train {
namespace {

TEST(InitModel, TinyPresetIsWellUnderAMillionParameters) {
  ModelPreset tiny = *FindModelPreset("tiny");
  EXPECT_LT(tiny.config.ParameterCount(), 200000);
  EXPECT_EQ(FindModelPreset("tinyllama-1.1b")->config.ParameterCount(), 1100048384);
  EXPECT_NEAR(static_cast<double>(FindModelPreset("small")->config.ParameterCount()), 5e6, 1.5e6);
}

TEST(InitModel, WritesALoadableModelDeterministicallyForASeed) {
  testing::TempDir dir;
  ASSERT_TRUE(InitModel(dir / "a", {.preset = "tiny", .seed = 3}).ok());
  ASSERT_TRUE(InitModel(dir / "b", {.preset = "tiny", .seed = 3}).ok());
  ASSERT_TRUE(InitModel(dir / "c", {.preset = "tiny", .seed = 4}).ok());
  CausalLm a = std::move(LoadCausalLm(dir / "a")).value();
  CausalLm b = std::move(LoadCausalLm(dir / "b")).value();
  CausalLm c = std::move(LoadCausalLm(dir / "c")).value();
  auto wa = NamedWeights(a), wb = NamedWeights(b), wc = NamedWeights(c);
  const std::string name = "model.layers.1.self_attn.q_proj.weight";
  EXPECT_TRUE(torch::equal(wa[name], wb[name]));
  EXPECT_FALSE(torch::equal(wa[name], wc[name]));
  EXPECT_NEAR(wa[name].std().item<double>(), 0.02, 0.002);
  EXPECT_TRUE(torch::equal(wa["model.norm.weight"], torch::ones({64})));
}

TEST(InitModel, UnknownPresetNamesTheKnownOnes) {
  testing::TempDir dir;
  EXPECT_EQ(InitModel(dir / "x", {.preset = "huge"}).message(),
            "unknown preset \"huge\" (expected one of tiny, small, base, tinyllama-1.1b)");
}

}  // namespace
}  // namespace gradients::train
