#include "trainers/model_loader.h"
#include "trainers/tensor_io.h"

#include <set>

#include <gtest/gtest.h>
#include <torch/types.h>

#include "common/config.h"
#include "common/durable_file.h"
#include "common/safetensors.h"
#include "tests/support/temp_dir.h"
#include "trainers/init_model.h"

namespace gradients::train {
namespace {

const std::filesystem::path kModels = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models";

// A copy of the llama_mha fixture whose weights file is rewritten by `edit`.
std::filesystem::path EditedCopy(const testing::TempDir& dir,
                                 const std::function<void(std::map<std::string, at::Tensor>&)>& edit) {
  std::filesystem::path out = dir / "model";
  std::filesystem::create_directories(out);
  std::filesystem::copy_file(kModels / "llama_mha/config.json", out / "config.json");
  common::SafetensorsFile file = std::move(common::SafetensorsFile::Open(kModels / "llama_mha/model.safetensors")).value();
  std::map<std::string, at::Tensor> tensors;
  for (const common::SafetensorsTensor& t : file.header().tensors) tensors[t.name] = WeightView(file, t)->clone();
  edit(tensors);
  common::SafetensorsWriter writer;
  for (auto& [name, tensor] : tensors) EXPECT_TRUE(AddTensor(writer, name, tensor).ok());
  EXPECT_TRUE(writer.WriteFile(out / "model.safetensors").ok());
  return out;
}

std::string LoadError(const std::filesystem::path& dir) {
  common::Result<CausalLm> model = LoadCausalLm(dir);
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
  nlohmann::json index = *common::ReadJsonFile(path / "model.safetensors.index.json");
  index["weight_map"]["model.norm.weight"] = "../elsewhere.safetensors";
  ASSERT_TRUE(common::WriteFileDurably(path / "model.safetensors.index.json", index.dump()).ok());
  EXPECT_EQ(LoadError(path), (path / "model.safetensors.index.json").string() +
                                 ": weight_map: shard name \"../elsewhere.safetensors\" must be a .safetensors file "
                                 "name in the model directory");
}

TEST(ModelLoader, TensorInTheWrongShardIsRejected) {
  testing::TempDir dir;
  std::filesystem::path path = dir / "model";
  std::filesystem::copy(kModels / "llama_sharded", path);
  nlohmann::json index = *common::ReadJsonFile(path / "model.safetensors.index.json");
  std::string moved = "model.norm.weight";
  std::string other = index["weight_map"][moved] == "model-00001-of-00002.safetensors"
                          ? "model-00002-of-00002.safetensors"
                          : "model-00001-of-00002.safetensors";
  index["weight_map"][moved] = other;
  ASSERT_TRUE(common::WriteFileDurably(path / "model.safetensors.index.json", index.dump()).ok());
  EXPECT_NE(LoadError(path).find("\"model.norm.weight\""), std::string::npos);
}

TEST(ModelLoader, MissingWeightsFileIsNotFound) {
  testing::TempDir dir;
  std::filesystem::copy_file(kModels / "llama_mha/config.json", dir / "config.json");
  EXPECT_EQ(LoadCausalLm(dir.path()).status().code(), common::StatusCode::kNotFound);
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

// One layer of hidden 8, untied: in float32 the embeddings and lm_head are 1024 bytes, the attention
// projections 256, the MLP's 512 and each norm 32; 4704 in all.
CausalLm SmallUntiedModel() {
  ModelConfig config;
  config.hidden_size = 8;
  config.intermediate_size = 16;
  config.num_hidden_layers = 1;
  config.num_attention_heads = 2;
  config.num_key_value_heads = 2;
  config.head_dim = 4;
  config.vocab_size = 32;
  CausalLm model(config);
  InitializeWeights(model, 3);
  return model;
}

std::set<std::string> FileNames(const std::filesystem::path& dir) {
  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.insert(entry.path().filename().string());
  return names;
}

void ExpectSameWeights(CausalLm& expected, const std::filesystem::path& dir) {
  common::Result<CausalLm> loaded = LoadCausalLm(dir);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  auto want = NamedWeights(expected), got = NamedWeights(*loaded);
  ASSERT_EQ(got.size(), want.size());
  for (const auto& [name, tensor] : want) EXPECT_TRUE(torch::equal(got[name], tensor)) << name;
}

TEST(SaveCausalLm, ShardsAboveTheLimitAsTransformersDoesAndLoadsBackIdentically) {
  testing::TempDir dir;
  CausalLm model = SmallUntiedModel();
  ASSERT_TRUE(SaveCausalLm(model, dir / "m", ModelSaveOptions{.max_shard_bytes = 600}).ok());
  // Greedy in parameter order, a new shard when the next tensor would pass 600 bytes; a tensor
  // above the limit gets its own shard at once, so lm_head's shard comes before model.norm's.
  const std::vector<std::vector<std::string>> shards = {
      {"model.embed_tokens.weight"},
      {"model.layers.0.self_attn.q_proj.weight", "model.layers.0.self_attn.k_proj.weight"},
      {"model.layers.0.self_attn.v_proj.weight", "model.layers.0.self_attn.o_proj.weight"},
      {"model.layers.0.mlp.gate_proj.weight"},
      {"model.layers.0.mlp.up_proj.weight"},
      {"model.layers.0.mlp.down_proj.weight", "model.layers.0.input_layernorm.weight",
       "model.layers.0.post_attention_layernorm.weight"},
      {"lm_head.weight"},
      {"model.norm.weight"}};
  nlohmann::json weight_map = nlohmann::json::object();
  std::set<std::string> files = {"config.json", "model.safetensors.index.json"};
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string file = "model-0000" + std::to_string(i + 1) + "-of-00008.safetensors";
    files.insert(file);
    for (const std::string& name : shards[i]) weight_map[name] = file;
    common::SafetensorsFile shard = std::move(common::SafetensorsFile::Open(dir / "m" / file)).value();
    EXPECT_EQ(shard.header().tensors.size(), shards[i].size()) << file;
    EXPECT_EQ(shard.header().metadata.at("format"), "pt");
  }
  EXPECT_EQ(FileNames(dir / "m"), files);
  nlohmann::json index = *common::ReadJsonFile(dir / "m" / "model.safetensors.index.json");
  EXPECT_EQ(index, (nlohmann::json{{"metadata", {{"total_size", 4704}}}, {"weight_map", weight_map}}));
  ExpectSameWeights(model, dir / "m");
}

TEST(SaveCausalLm, WritesOneFileUpToTheLimitInTheRequestedDtype) {
  testing::TempDir dir;
  CausalLm model = SmallUntiedModel();
  ASSERT_TRUE(SaveCausalLm(model, dir / "m", {.dtype = at::kBFloat16, .max_shard_bytes = 4704 / 2}).ok());
  EXPECT_EQ(FileNames(dir / "m"), (std::set<std::string>{"config.json", "model.safetensors"}));
  EXPECT_EQ((*LoadModelConfig(dir / "m")).torch_dtype, "bfloat16");
  common::SafetensorsFile file = std::move(common::SafetensorsFile::Open(dir / "m" / "model.safetensors")).value();
  for (const common::SafetensorsTensor& tensor : file.header().tensors) EXPECT_EQ(tensor.dtype, common::DType::kBF16) << tensor.name;
}

TEST(SaveCausalLm, ReplacesTheWeightFilesOfAnEarlierSave) {
  testing::TempDir dir;
  CausalLm model = SmallUntiedModel();
  ASSERT_TRUE(SaveCausalLm(model, dir / "m", ModelSaveOptions{.max_shard_bytes = 600}).ok());
  ASSERT_TRUE(std::filesystem::exists(dir / "m" / "model-00008-of-00008.safetensors"));
  ASSERT_TRUE(common::WriteFileDurably(dir / "m" / "README.md", "kept\n").ok());
  {
    torch::NoGradGuard no_grad;
    model->model->norm->weight.fill_(0.5);
  }
  ASSERT_TRUE(SaveCausalLm(model, dir / "m").ok());
  EXPECT_EQ(FileNames(dir / "m"), (std::set<std::string>{"README.md", "config.json", "model.safetensors"}))
      << "the stale index would otherwise be read instead of the new model.safetensors";
  ExpectSameWeights(model, dir / "m");
  ASSERT_TRUE(SaveCausalLm(model, dir / "m", ModelSaveOptions{.max_shard_bytes = 2000}).ok());
  EXPECT_FALSE(std::filesystem::exists(dir / "m" / "model.safetensors"));
  ExpectSameWeights(model, dir / "m");
}

TEST(CopyTokenizerFiles, CopiesTheTokenizerFilesThatExistAndNothingElse) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "from");
  const std::map<std::string, std::string> tokenizer_files = {
      {"tokenizer.json", "{}"}, {"merges.txt", "a b\n"}, {"chat_template.jinja", "{{ messages }}"},
      {"generation_config.json", "{\"do_sample\": false}"}};
  for (const auto& [name, text] : tokenizer_files) ASSERT_TRUE(common::WriteFileDurably(dir / "from" / name, text).ok());
  ASSERT_TRUE(common::WriteFileDurably(dir / "from" / "model.safetensors", "weights").ok());
  ASSERT_TRUE(common::WriteFileDurably(dir / "from" / "notes.txt", "notes").ok());

  ASSERT_TRUE(CopyTokenizerFiles(dir / "from", dir / "to" / "nested").ok());
  std::set<std::string> expected_names;
  for (const auto& [name, text] : tokenizer_files) {
    expected_names.insert(name);
    EXPECT_EQ(*common::ReadFileToString(dir / "to" / "nested" / name, 1024), text) << name;
  }
  EXPECT_EQ(FileNames(dir / "to" / "nested"), expected_names);

  ASSERT_TRUE(common::WriteFileDurably(dir / "from" / "tokenizer.json", "{\"version\": \"1.0\"}").ok());
  ASSERT_TRUE(CopyTokenizerFiles(dir / "from", dir / "to" / "nested").ok());
  EXPECT_EQ(*common::ReadFileToString(dir / "to" / "nested" / "tokenizer.json", 1024), "{\"version\": \"1.0\"}")
      << "an existing copy is replaced";
}

}  // namespace
}  // namespace gradients::train
