// `gradients merge`, run as a real process on a tiny model and a hand-written PEFT adapter.
#include <cmath>
#include <random>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "common/safetensors.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace gradients::cli {
namespace {

using testing::ProcessResult;

const std::filesystem::path kData = GRADIENTS_TEST_DATA_DIR;
const std::string kText = (kData / "datasets/text.jsonl").string();

testing::ProcessResult Gradients(std::vector<std::string> args) {
  args.insert(args.begin(), GRADIENTS_CLI_PATH);
  return testing::RunProcess(args);
}

// Random float32 bytes in [-1, 1): large against the tiny preset's N(0, 0.02) weights, so that the
// merged model's loss moves although an untrained model's loss hardly depends on its weights.
std::vector<uint8_t> RandomFloats(size_t count, std::mt19937& random) {
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> values(count);
  for (float& value : values) value = uniform(random);
  const auto* bytes = reinterpret_cast<const uint8_t*>(values.data());
  return std::vector<uint8_t>(bytes, bytes + count * sizeof(float));
}

// An r=4, alpha=8 adapter in PEFT's layout on q_proj and down_proj of both layers; `q_in` is the
// input width its q_proj matrices assume (64 for the tiny preset).
std::filesystem::path WriteAdapter(const std::filesystem::path& dir, uint64_t q_in = 64) {
  std::filesystem::create_directories(dir);
  const nlohmann::json config = {{"peft_type", "LORA"}, {"task_type", "CAUSAL_LM"}, {"r", 4},
                                 {"lora_alpha", 8},     {"lora_dropout", 0.0},     {"bias", "none"},
                                 {"target_modules", {"q_proj", "down_proj"}}};
  EXPECT_TRUE(common::WriteFileDurably(dir / "adapter_config.json", config.dump()).ok());
  std::mt19937 random(7);
  common::SafetensorsWriter writer;
  const auto add = [&](const std::string& module, uint64_t in, uint64_t out) {
    const std::string key = "base_model.model." + module;
    EXPECT_TRUE(writer.Add(key + ".lora_A.weight", common::DType::kF32, {4, in}, RandomFloats(4 * in, random)).ok());
    EXPECT_TRUE(writer.Add(key + ".lora_B.weight", common::DType::kF32, {out, 4}, RandomFloats(out * 4, random)).ok());
  };
  for (const std::string layer : {"0", "1"}) {
    add("model.layers." + layer + ".self_attn.q_proj", q_in, q_in);
    add("model.layers." + layer + ".mlp.down_proj", 172, 64);
  }
  EXPECT_TRUE(writer.WriteFile(dir / "adapter_model.safetensors").ok());
  return dir;
}

double EvalLoss(std::vector<std::string> args) {
  args.insert(args.begin(), {"eval", "--data", kText, "--format", "text"});
  testing::ProcessResult eval = Gradients(args);
  EXPECT_EQ(eval.exit_code, 0) << eval.err;
  return eval.exit_code == 0 ? nlohmann::json::parse(eval.out)["loss"].get<double>() : NAN;
}

// A tiny base model with the SentencePiece tokenizer and an adapter for it, made once.
class MergeCommand : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir;
    testing::ProcessResult init = Gradients({"init-model", "--preset", "tiny", "--out", Base(), "--tokenizer",
                                    (kData / "models/tokenizer_sp512/tokenizer.model").string(), "--seed", "5"});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    WriteAdapter(*dir_ / "adapter");
  }
  static void TearDownTestSuite() { delete dir_; }
  static std::string Base() { return (*dir_ / "base").string(); }
  static std::string Adapter() { return (*dir_ / "adapter").string(); }

  static testing::TempDir* dir_;
};
testing::TempDir* MergeCommand::dir_ = nullptr;

TEST_F(MergeCommand, MergedModelEvaluatesAsTheBaseWithTheAdapter) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "merged");  // an empty directory is replaced
  testing::ProcessResult merge = Gradients({"merge", "--model", Base(), "--adapter", Adapter(), "--out",
                                   (dir / "merged").string()});
  ASSERT_EQ(merge.exit_code, 0) << merge.err;
  nlohmann::json printed = nlohmann::json::parse(merge.out);
  EXPECT_EQ(printed["out"], (dir / "merged").string());
  EXPECT_EQ(printed["dtype"], "float32");
  for (const char* file : {"config.json", "model.safetensors", "tokenizer.model"}) {
    EXPECT_TRUE(std::filesystem::exists(dir / "merged" / file)) << file;
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "merged.partial"));

  const double merged = EvalLoss({"--model", (dir / "merged").string()});
  const double adapted = EvalLoss({"--model", Base(), "--adapter", Adapter()});
  EXPECT_NEAR(merged, adapted, 1e-5);
  EXPECT_GT(std::abs(merged - EvalLoss({"--model", Base()})), 1e-3) << "the adapter changes the model";
}

TEST_F(MergeCommand, WritesBfloat16WeightsWhenAsked) {
  testing::TempDir dir;
  testing::ProcessResult merge = Gradients({"merge", "--model", Base(), "--adapter", Adapter(), "--out",
                                   (dir / "merged").string(), "--dtype", "bfloat16"});
  ASSERT_EQ(merge.exit_code, 0) << merge.err;
  nlohmann::json config = nlohmann::json::parse(*common::ReadFileToString(dir / "merged" / "config.json", 1 << 20));
  EXPECT_EQ(config["torch_dtype"], "bfloat16");
  testing::ProcessResult inspect = Gradients({"inspect", (dir / "merged" / "model.safetensors").string()});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_EQ(inspect.out.find("\"F32\""), std::string::npos) << inspect.out;
  EXPECT_NEAR(EvalLoss({"--model", (dir / "merged").string()}), EvalLoss({"--model", Base(), "--adapter", Adapter()}),
              0.05);
}

TEST_F(MergeCommand, AMissingAdapterDirectoryIsNamedAndNothingIsWritten) {
  testing::TempDir dir;
  testing::ProcessResult merge = Gradients({"merge", "--model", Base(), "--adapter", (dir / "nowhere").string(), "--out",
                                   (dir / "merged").string()});
  EXPECT_EQ(merge.exit_code, 1);
  EXPECT_EQ(merge.err, "gradients merge: --adapter " + (dir / "nowhere").string() + ": no such directory\n");
  EXPECT_FALSE(std::filesystem::exists(dir / "merged"));
}

TEST_F(MergeCommand, AnAdapterForAnotherShapeIsRefusedWithBothShapes) {
  testing::TempDir dir;
  WriteAdapter(dir / "wide", /*q_in=*/128);
  testing::ProcessResult merge = Gradients({"merge", "--model", Base(), "--adapter", (dir / "wide").string(), "--out",
                                   (dir / "merged").string()});
  EXPECT_EQ(merge.exit_code, 1);
  EXPECT_EQ(merge.err, "gradients merge: " + (dir / "wide").string() +
                           ": adapter module \"model.layers.0.self_attn.q_proj\": lora_A is [4,128] and lora_B "
                           "[128,4], the weight is [64,64]\n");
  EXPECT_FALSE(std::filesystem::exists(dir / "merged"));
  EXPECT_FALSE(std::filesystem::exists(dir / "merged.partial"));
}

TEST_F(MergeCommand, ANonEmptyOutputDirectoryIsNeverOverwritten) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "merged");
  ASSERT_TRUE(common::WriteFileDurably(dir / "merged" / "config.json", "mine").ok());
  testing::ProcessResult merge = Gradients({"merge", "--model", Base(), "--adapter", Adapter(), "--out",
                                   (dir / "merged").string()});
  EXPECT_EQ(merge.exit_code, 1);
  EXPECT_EQ(merge.err, "gradients merge: --out " + (dir / "merged").string() +
                           " exists and is not an empty directory; refusing to overwrite it\n");
  EXPECT_EQ(*common::ReadFileToString(dir / "merged" / "config.json", 64), "mine");
}

}  // namespace
}  // namespace gradients::cli
