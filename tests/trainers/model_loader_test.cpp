#include "trainers/model_loader.h"
#include "trainers/tensor_io.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include "common/config.h"
#include "common/durable_file.h"
#include "common/safetensors.h"
#include "tests/support/temp_dir.h"

namespace gradients {
namespace {

const std::filesystem::path kModels = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models";

// A copy of the llama_mha fixture whose weights file is rewritten by `edit`.
std::filesystem::path EditedCopy(const testing::TempDir& dir,
                                 const std::function<void(std::map<std::string, at::Tensor>&)>& edit) {
  std::filesystem::path out = dir / "model";
  std::filesystem::create_directories(out);
  std::filesystem::copy_file(kModels / "llama_mha/config.json", out / "config.json");
  SafetensorsFile file = std::move(SafetensorsFile::Open(kModels / "llama_mha/model.safetensors")).value();
  std::map<std::string, at::Tensor> tensors;
  for (const SafetensorsTensor& t : file.header().tensors) tensors[t.name] = WeightView(file, t)->clone();
  edit(tensors);
  SafetensorsWriter writer;
  for (auto& [name, tensor] : tensors) EXPECT_TRUE(AddTensor(writer, name, tensor).ok());
  EXPECT_TRUE(writer.WriteFile(out / "model.safetensors").ok());
  return out;
}

std::string LoadError(const std::filesystem::path& dir) {
  Result<CausalLm> model = LoadCausalLm(dir);
  EXPECT_FALSE(model.ok());
  return model.ok() ? "" : model.status().message();
}

TEST(ModelLoader, MissingTensorIsNamed) {
  testing::TempDir dir;
  auto path = EditedCopy(dir, [](auto& t) { t.erase("model.layers.1.mlp.up_proj.weight"); });
  EXPECT_EQ(LoadError(path), path.string() + ": missing tensor \"model.layers.1.mlp.up_proj.weight\" (and 0 more)");
}

TEST(ModelLoader, UnexpectedTensorIsNamed) {
  testing::TempDir dir;
  auto path = EditedCopy(dir, [](auto& t) { t["model.layers.0.self_attn.rotary_emb.inv_freq"] = torch::zeros({8}); });
  EXPECT_EQ(LoadError(path), (path / "model.safetensors").string() +
                                 ": unexpected tensor \"model.layers.0.self_attn.rotary_emb.inv_freq\" for this config");
}

TEST(ModelLoader, WronglyShapedTensorIsNamedWithBothShapes) {
  testing::TempDir dir;
  auto path = EditedCopy(dir, [](auto& t) { t["model.norm.weight"] = torch::ones({65}); });
  EXPECT_EQ(LoadError(path), (path / "model.safetensors").string() +
                                 ": tensor \"model.norm.weight\" has shape [65], the config needs [64]");
}

TEST(ModelLoader, NonFloatWeightsAreRejected) {
  testing::TempDir dir;
  auto path = EditedCopy(dir, [](auto& t) { t["model.norm.weight"] = torch::ones({64}, torch::kLong); });
  EXPECT_EQ(LoadError(path), (path / "model.safetensors").string() +
                                 ": tensor \"model.norm.weight\": dtype I64 is not a weight dtype (expected F32, "
                                 "F16 or BF16)");
}

TEST(ModelLoader, ShardIndexMayNotPointOutsideTheModelDirectory) {
  testing::TempDir dir;
  std::filesystem::path path = dir / "model";
  std::filesystem::copy(kModels / "llama_sharded", path);
  nlohmann::json index = *ReadJsonFile(path / "model.safetensors.index.json");
  index["weight_map"]["model.norm.weight"] = "../elsewhere.safetensors";
  ASSERT_TRUE(WriteFileDurably(path / "model.safetensors.index.json", index.dump()).ok());
  EXPECT_EQ(LoadError(path), (path / "model.safetensors.index.json").string() +
                                 ": weight_map: shard name \"../elsewhere.safetensors\" must be a .safetensors file "
                                 "name in the model directory");
}

TEST(ModelLoader, TensorInTheWrongShardIsRejected) {
  testing::TempDir dir;
  std::filesystem::path path = dir / "model";
  std::filesystem::copy(kModels / "llama_sharded", path);
  nlohmann::json index = *ReadJsonFile(path / "model.safetensors.index.json");
  std::string moved = "model.norm.weight";
  std::string other = index["weight_map"][moved] == "model-00001-of-00002.safetensors"
                          ? "model-00002-of-00002.safetensors"
                          : "model-00001-of-00002.safetensors";
  index["weight_map"][moved] = other;
  ASSERT_TRUE(WriteFileDurably(path / "model.safetensors.index.json", index.dump()).ok());
  EXPECT_NE(LoadError(path).find("\"model.norm.weight\""), std::string::npos);
}

TEST(ModelLoader, MissingWeightsFileIsNotFound) {
  testing::TempDir dir;
  std::filesystem::copy_file(kModels / "llama_mha/config.json", dir / "config.json");
  EXPECT_EQ(LoadCausalLm(dir.path()).status().code(), StatusCode::kNotFound);
}

TEST(ModelLoader, SavedModelLoadsBackWithIdenticalLogits) {
  testing::TempDir dir;
  CausalLm model = std::move(LoadCausalLm(kModels / "llama_head_dim_bias")).value();
  ASSERT_TRUE(SaveCausalLm(model, dir / "saved").ok());
  CausalLm again = std::move(LoadCausalLm(dir / "saved")).value();
  torch::NoGradGuard no_grad;
  at::Tensor ids = torch::tensor({1, 5, 9, 2}, torch::kLong).unsqueeze(0);
  EXPECT_TRUE(torch::equal(model->forward(ids), again->forward(ids)));
}

TEST(ModelLoader, LoadsInBfloat16WhenAsked) {
  CausalLm model = std::move(LoadCausalLm(kModels / "llama_mha", {.dtype = at::kBFloat16})).value();
  EXPECT_EQ(model->model->embed_tokens->weight.scalar_type(), at::kBFloat16);
  torch::NoGradGuard no_grad;
  at::Tensor logits = model->forward(torch::tensor({1, 5, 9, 2}, torch::kLong).unsqueeze(0));
  EXPECT_EQ(logits.scalar_type(), at::kBFloat16);
  EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
}

}  // namespace
}  // namespace gradients
