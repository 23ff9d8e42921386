#include "trainers/lora_adapter.h"

#include <cmath>

#include <gtest/gtest.h>
#include <torch/types.h>

#include "common/durable_file.h"
#include "common/safetensors.h"
#include "tests/support/temp_dir.h"
#include "trainers/model_loader.h"
#include "trainers/tensor_io.h"

namespace gradients::train {
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
    EXPECT_TRUE(common::WriteFileDurably(dir / "adapter_config.json", config.dump()).ok());
    common::SafetensorsWriter writer;
    for (const auto& [name, tensor] : tensors) EXPECT_TRUE(AddTensor(writer, name, tensor).ok());
    EXPECT_TRUE(writer.WriteFile(dir / "adapter_model.safetensors").ok());
    return dir;
  }
};

std::string LoadError(const AdapterFiles& files) {
  testing::TempDir dir;
  common::Result<CausalLm> model = LoadCausalLm(kModel, {.adapter = files.Write(dir / "adapter")});
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

// An adapter for the llama_head_dim_bias fixture, as a trainer holds it in memory.
LoraAdapter TrainedAdapter(at::ScalarType dtype = at::kFloat) {
  torch::manual_seed(12);
  LoraAdapter adapter;
  adapter.config = {.r = 2, .lora_alpha = 6, .lora_dropout = 0.05, .use_rslora = true,
                    .target_modules = {"q_proj", "down_proj"}, .base_model_name_or_path = "fixtures/llama"};
  const auto random = [dtype](int64_t rows, int64_t columns) { return torch::randn({rows, columns}).to(dtype); };
  adapter.modules["model.layers.0.self_attn.q_proj"] = {random(2, 64), random(96, 2)};
  adapter.modules["model.layers.1.mlp.down_proj"] = {random(2, 96), random(64, 2)};
  return adapter;
}

TEST(SaveLoraAdapter, RoundTripsThroughLoadLoraAdapterIntoANewDirectory) {
  testing::TempDir dir;
  const LoraAdapter saved = TrainedAdapter();
  const std::filesystem::path path = dir / "not" / "yet" / "there";
  ASSERT_TRUE(SaveLoraAdapter(saved, path).ok());
  common::Result<LoraAdapter> loaded = LoadLoraAdapter(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_EQ(loaded->config.r, 2);
  EXPECT_EQ(loaded->config.lora_alpha, 6);
  EXPECT_EQ(loaded->config.lora_dropout, 0.05);
  EXPECT_TRUE(loaded->config.use_rslora);
  EXPECT_EQ(loaded->config.target_modules, saved.config.target_modules);
  EXPECT_EQ(loaded->config.base_model_name_or_path, "fixtures/llama");
  ASSERT_EQ(loaded->modules.size(), saved.modules.size());
  for (const auto& [module, weights] : saved.modules) {
    EXPECT_TRUE(torch::equal(loaded->modules[module].a, weights.a)) << module;
    EXPECT_TRUE(torch::equal(loaded->modules[module].b, weights.b)) << module;
  }
  EXPECT_TRUE(LoadCausalLm(kModel, {.adapter = path}).ok()) << "and merges into the model it was made for";
}

TEST(SaveLoraAdapter, WritesTheConfigurationPeftWrites) {
  testing::TempDir dir;
  ASSERT_TRUE(SaveLoraAdapter(TrainedAdapter(), dir.path()).ok());
  nlohmann::json config = nlohmann::json::parse(*common::ReadFileToString(dir / "adapter_config.json", 1 << 20));
  const nlohmann::json expected = {
      {"peft_type", "LORA"}, {"task_type", "CAUSAL_LM"}, {"base_model_name_or_path", "fixtures/llama"},
      {"revision", nullptr}, {"r", 2}, {"lora_alpha", 6}, {"lora_dropout", 0.05}, {"use_rslora", true},
      {"target_modules", {"q_proj", "down_proj"}}, {"bias", "none"}, {"fan_in_fan_out", false},
      {"inference_mode", true}, {"init_lora_weights", true}, {"modules_to_save", nullptr}, {"use_dora", false},
      {"rank_pattern", nlohmann::json::object()}, {"alpha_pattern", nlohmann::json::object()},
      {"layers_to_transform", nullptr}};
  EXPECT_EQ(config, expected) << config.dump(2);
  EXPECT_TRUE(config["lora_alpha"].is_number_integer()) << "PEFT writes an integral alpha as an integer";
}

TEST(SaveLoraAdapter, WritesPeftKeysAndShapesInTheTensorsDtype) {
  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    testing::TempDir dir;
    ASSERT_TRUE(SaveLoraAdapter(TrainedAdapter(dtype), dir.path()).ok());
    common::SafetensorsFile file = std::move(common::SafetensorsFile::Open(dir / "adapter_model.safetensors")).value();
    std::map<std::string, std::vector<uint64_t>> shapes;
    for (const common::SafetensorsTensor& tensor : file.header().tensors) {
      shapes[tensor.name] = tensor.shape;
      EXPECT_EQ(tensor.dtype, dtype == at::kFloat ? common::DType::kF32 : common::DType::kBF16) << tensor.name;
    }
    const std::map<std::string, std::vector<uint64_t>> expected = {
        {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", {2, 64}},
        {"base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", {96, 2}},
        {"base_model.model.model.layers.1.mlp.down_proj.lora_A.weight", {2, 96}},
        {"base_model.model.model.layers.1.mlp.down_proj.lora_B.weight", {64, 2}}};
    EXPECT_EQ(shapes, expected);
    EXPECT_EQ(file.header().metadata, (std::map<std::string, std::string>{{"format", "pt"}}));
  }
}

TEST(SaveLoraAdapter, RefusesWhatLoadLoraAdapterWouldRefuseAndWritesNothing) {
  testing::TempDir dir;
  LoraAdapter adapter = TrainedAdapter();
  adapter.config.r = 4;
  common::Status status = SaveLoraAdapter(adapter, dir / "a");
  EXPECT_EQ(status.message(), "module \"model.layers.0.self_attn.q_proj\": lora_A is [2,64] and lora_B [96,2], the "
                              "config says r=4");
  EXPECT_FALSE(std::filesystem::exists(dir / "a"));
  adapter = TrainedAdapter();
  adapter.modules.clear();
  EXPECT_EQ(SaveLoraAdapter(adapter, dir / "a").message(), "no LoRA modules to save");
  adapter = TrainedAdapter();
  adapter.modules["model.layers.0.self_attn.q_proj"].b = at::Tensor();
  EXPECT_EQ(SaveLoraAdapter(adapter, dir / "a").message(),
            "module \"model.layers.0.self_attn.q_proj\": lora_A and lora_B must both be matrices");
}

}  // namespace
}  // namespace gradients::train
