#include "trainers/lora_adapter.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/types.h>

#include "common/durable_file.h"
#include "common/safetensors.h"
#include "tests/support/temp_dir.h"
#include "trainers/model_loader.h"
#include "trainers/tensor_io.h"

namespace gradients {
namespace {

const std::filesystem::path kModel = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models/llama_head_dim_bias";

// A PEFT-layout adapter for the llama_head_dim_bias fixture (hidden 64, 4 heads of 24, 2 kv heads).
struct AdapterFiles {
  nlohmann::json config = {{"peft_type", "LORA"}, {"r", 2}, {"lora_alpha", 6}, {"lora_dropout", 0.0},
                           {"target_modules", {"q_proj", "down_proj"}}, {"bias", "none"},
                           {"fan_in_fan_out", false}, {"task_type", "CAUSAL_LM"}, {"use_rslora", false}};
  std::map<std::string, at::Tensor> tensors;

  AdapterFiles() {
    torch::manual_seed(11);
    tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"] = torch::randn({2, 64});
    tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"] = torch::randn({96, 2});
    tensors["base_model.model.model.layers.1.mlp.down_proj.lora_A.weight"] = torch::randn({2, 96});
    tensors["base_model.model.model.layers.1.mlp.down_proj.lora_B.weight"] = torch::randn({64, 2});
  }

  std::filesystem::path Write(const std::filesystem::path& dir) const {
    std::filesystem::create_directories(dir);
    EXPECT_TRUE(WriteFileDurably(dir / "adapter_config.json", config.dump()).ok());
    SafetensorsWriter writer;
    for (const auto& [name, tensor] : tensors) EXPECT_TRUE(AddTensor(writer, name, tensor).ok());
    EXPECT_TRUE(writer.WriteFile(dir / "adapter_model.safetensors").ok());
    return dir;
  }
};

std::string LoadError(const AdapterFiles& files) {
  testing::TempDir dir;
  Result<CausalLm> model = LoadCausalLm(kModel, {.adapter = files.Write(dir / "adapter")});
  EXPECT_FALSE(model.ok());
  if (model.ok()) return "";
  std::string message = model.status().message();
  return message.substr(message.find(": ") + 2);  // without the path
}

TEST(LoraAdapter, MergingAddsScaledBTimesAToEachTargetedWeight) {
  testing::TempDir dir;
  AdapterFiles files;
  CausalLm base = std::move(LoadCausalLm(kModel)).value();
  CausalLm merged = std::move(LoadCausalLm(kModel, {.adapter = files.Write(dir / "adapter")})).value();
  auto before = NamedWeights(base), after = NamedWeights(merged);
  const double scale = 6.0 / 2.0;
  at::Tensor expected = before["model.layers.0.self_attn.q_proj.weight"] +
                        scale * at::matmul(files.tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"],
                                           files.tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"]);
  EXPECT_TRUE(torch::allclose(after["model.layers.0.self_attn.q_proj.weight"], expected, 1e-6, 1e-6));
  EXPECT_TRUE(torch::equal(after["model.layers.1.self_attn.q_proj.weight"], before["model.layers.1.self_attn.q_proj.weight"]))
      << "a module without adapter weights is unchanged";
  EXPECT_FALSE(torch::equal(after["model.layers.1.mlp.down_proj.weight"], before["model.layers.1.mlp.down_proj.weight"]));
}

TEST(LoraAdapter, RsLoraScalesByTheSquareRootOfTheRank) {
  LoraAdapterConfig config;
  config.r = 16;
  config.lora_alpha = 32;
  EXPECT_DOUBLE_EQ(config.Scale(), 2.0);
  config.use_rslora = true;
  EXPECT_DOUBLE_EQ(config.Scale(), 8.0);
}

TEST(LoraAdapter, RejectsWhatItCannotHonourNamingIt) {
  AdapterFiles files;
  files.config["peft_type"] = "IA3";
  EXPECT_EQ(LoadError(files), "peft_type: expected \"LORA\", got \"IA3\"");
  files = AdapterFiles();
  files.config["use_dora"] = true;
  EXPECT_EQ(LoadError(files), "use_dora: DoRA is not supported, got true");
  files = AdapterFiles();
  files.config["modules_to_save"] = {"lm_head"};
  EXPECT_EQ(LoadError(files), "modules_to_save: saving whole modules is not supported, got [\"lm_head\"]");
  files = AdapterFiles();
  files.config["r"] = 4;
  EXPECT_NE(LoadError(files).find("has rank 2, the config says r=4"), std::string::npos);
}

TEST(LoraAdapter, RejectsTensorsThatDoNotFitTheModel) {
  AdapterFiles files;
  files.tensors.erase("base_model.model.model.layers.1.mlp.down_proj.lora_B.weight");
  EXPECT_EQ(LoadError(files), "module \"model.layers.1.mlp.down_proj\" has lora_A but not lora_B");

  files = AdapterFiles();
  files.config["target_modules"] = {"q_proj"};
  EXPECT_EQ(LoadError(files), "adapter module \"model.layers.1.mlp.down_proj\" is not among target_modules");

  files = AdapterFiles();
  files.tensors["base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight"] = torch::randn({97, 2});
  EXPECT_EQ(LoadError(files), "adapter module \"model.layers.0.self_attn.q_proj\": lora_A is [2,64] and lora_B "
                              "[97,2], the weight is [96,64]");

  files = AdapterFiles();
  files.tensors["base_model.model.model.layers.9.self_attn.q_proj.lora_A.weight"] = torch::randn({2, 64});
  files.tensors["base_model.model.model.layers.9.self_attn.q_proj.lora_B.weight"] = torch::randn({96, 2});
  EXPECT_EQ(LoadError(files), "adapter module \"model.layers.9.self_attn.q_proj\" is not a linear layer of this model");

  files = AdapterFiles();
  files.tensors["base_model.model.lm_head.weight"] = torch::randn({4, 4});
  EXPECT_NE(LoadError(files).find("unexpected tensor \"base_model.model.lm_head.weight\""), std::string::npos);
}

}  // namespace
}  // namespace gradients
