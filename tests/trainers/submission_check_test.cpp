#include "trainers/submission_check.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/durable_file.h"
#include "common/safetensors.h"
#include "tests/support/temp_dir.h"
#include "trainers/model_config.h"
#include "trainers/tensor_io.h"

namespace gradients::train {
namespace {

// hidden 64, 4 heads of 24 (q_proj: 64 -> 96), 2 kv heads.
const std::filesystem::path kBase = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models/llama_head_dim_bias";

// A PEFT adapter on q_proj of layer 0, written to `dir`.
struct Adapter {
  nlohmann::json config = {{"peft_type", "LORA"}, {"r", 2}, {"lora_alpha", 4}, {"lora_dropout", 0.0},
                           {"target_modules", {"q_proj"}}, {"bias", "none"}, {"task_type", "CAUSAL_LM"}};
  at::Tensor a = torch::randn({2, 64}), b = torch::randn({96, 2});

  std::filesystem::path Write(const std::filesystem::path& dir) const {
    std::filesystem::create_directories(dir);
    EXPECT_TRUE(common::WriteFileDurably(dir / "adapter_config.json", config.dump()).ok());
    common::SafetensorsWriter writer;
    EXPECT_TRUE(AddTensor(writer, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", a).ok());
    EXPECT_TRUE(AddTensor(writer, "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", b).ok());
    EXPECT_TRUE(writer.WriteFile(dir / "adapter_model.safetensors").ok());
    return dir;
  }
};

CheckedSubmission Check(const std::filesystem::path& submission, SubmissionKind kind) {
  common::Result<CheckedSubmission> checked = LoadSubmission(kBase, submission, kind);
  EXPECT_TRUE(checked.ok()) << checked.status().message();
  return checked.ok() ? std::move(*checked) : CheckedSubmission{};
}

TEST(SubmissionCheck, AnAdapterThatFitsTheBaseIsMergedIntoIt) {
  testing::TempDir dir;
  torch::manual_seed(3);
  const Adapter adapter;
  CheckedSubmission checked = Check(adapter.Write(dir / "adapter"), SubmissionKind::kLoraAdapter);
  ASSERT_EQ(checked.verdict, SubmissionVerdict::kValid) << checked.reason;
  ASSERT_TRUE(checked.model.has_value());
  CausalLm base = std::move(LoadCausalLm(kBase)).value();
  const at::Tensor expected =
      NamedWeights(base)["model.layers.0.self_attn.q_proj.weight"] + at::matmul(adapter.b, adapter.a) * 2.0;
  EXPECT_TRUE(at::allclose(NamedWeights(*checked.model)["model.layers.0.self_attn.q_proj.weight"], expected));
}

TEST(SubmissionCheck, AdaptersThatDoNotDeriveFromTheBaseOrHoldNaNAreInvalidWithTheReason) {
  testing::TempDir dir;
  Adapter wrong_shape;
  wrong_shape.a = torch::randn({2, 32});
  CheckedSubmission checked = Check(wrong_shape.Write(dir / "shape"), SubmissionKind::kLoraAdapter);
  EXPECT_EQ(checked.verdict, SubmissionVerdict::kInvalid);
  EXPECT_NE(checked.reason.find("lora_A is [2,32]"), std::string::npos) << checked.reason;

  Adapter nan;
  nan.b[0][0] = std::nan("");
  checked = Check(nan.Write(dir / "nan"), SubmissionKind::kLoraAdapter);
  EXPECT_EQ(checked.verdict, SubmissionVerdict::kInvalid);
  EXPECT_EQ(checked.reason, "adapter module \"model.layers.0.self_attn.q_proj\" holds NaN or infinite weights");

  Adapter untargeted;
  untargeted.config["target_modules"] = {"v_proj"};
  EXPECT_EQ(Check(untargeted.Write(dir / "untargeted"), SubmissionKind::kLoraAdapter).verdict,
            SubmissionVerdict::kInvalid);
  EXPECT_EQ(Check(dir / "missing", SubmissionKind::kLoraAdapter).verdict, SubmissionVerdict::kInvalid);
}

TEST(SubmissionCheck, AnAdapterAsPeftInitialisesItChangesNothing) {
  testing::TempDir dir;
  Adapter untrained;
  untrained.b = torch::zeros({96, 2});
  const CheckedSubmission checked = Check(untrained.Write(dir / "adapter"), SubmissionKind::kLoraAdapter);
  EXPECT_EQ(checked.verdict, SubmissionVerdict::kNotFinetuned);
  EXPECT_FALSE(checked.model.has_value());
  // Nonzero factors scaled by an alpha of zero change nothing either.
  Adapter silenced;
  silenced.config["lora_alpha"] = 0;
  EXPECT_EQ(Check(silenced.Write(dir / "silenced"), SubmissionKind::kLoraAdapter).verdict,
            SubmissionVerdict::kNotFinetuned);
}

TEST(SubmissionCheck, AFullModelMustKeepTheBasesArchitectureAndChangeAWeight) {
  testing::TempDir dir;
  CausalLm model = std::move(LoadCausalLm(kBase)).value();
  ASSERT_TRUE(SaveCausalLm(model, dir / "copy", at::kBFloat16).ok());
  EXPECT_EQ(Check(dir / "copy", SubmissionKind::kFullModel).verdict, SubmissionVerdict::kValid)
      << "bfloat16 rounding changes weights, and the precision may differ from the base's";
  ASSERT_TRUE(SaveCausalLm(model, dir / "same", at::kFloat).ok());
  EXPECT_EQ(Check(dir / "same", SubmissionKind::kFullModel).verdict, SubmissionVerdict::kNotFinetuned);

  {
    torch::NoGradGuard no_grad;
    NamedWeights(model)["model.norm.weight"].fill_(std::numeric_limits<float>::infinity());
  }
  ASSERT_TRUE(SaveCausalLm(model, dir / "inf", at::kFloat).ok());
  const CheckedSubmission inf = Check(dir / "inf", SubmissionKind::kFullModel);
  EXPECT_EQ(inf.verdict, SubmissionVerdict::kInvalid);
  EXPECT_EQ(inf.reason, "weight \"model.norm.weight\" holds NaN or infinity");

  nlohmann::json config = LoadModelConfig(kBase)->ToJson();
  config["rms_norm_eps"] = 0.5;
  ASSERT_TRUE(common::WriteFileDurably(dir / "same" / "config.json", config.dump()).ok());
  const CheckedSubmission other = Check(dir / "same", SubmissionKind::kFullModel);
  EXPECT_EQ(other.verdict, SubmissionVerdict::kInvalid);
  EXPECT_NE(other.reason.find("config.json: \"rms_norm_eps\" is 0.5 where the base model's is"), std::string::npos)
      << other.reason;
}

TEST(SubmissionCheck, ABaseModelThatCannotBeLoadedIsTheEvaluatorsErrorNotAVerdict) {
  testing::TempDir dir;
  torch::manual_seed(3);
  common::Result<CheckedSubmission> checked =
      LoadSubmission(dir / "no-base", Adapter().Write(dir / "adapter"), SubmissionKind::kLoraAdapter);
  EXPECT_FALSE(checked.ok());
}

}  // namespace
}  // namespace gradients::train
