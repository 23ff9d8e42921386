#include "validator/state/registry.h"

#include <fstream>

#include <gtest/gtest.h>

#include "common/safetensors.h"
#include "tests/support/temp_dir.h"
#include "validator/state/data_directory.h"
#include "validator/state/sqlite_store.h"

namespace gradients::validator {
namespace {

const std::filesystem::path kModel = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models" / "llama_mha";

// A store and blob store in a fresh data directory, and a copy of the fixture model to alter.
class RegistryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = std::move(*SqliteStore::Open(dir_ / "state.db"));
    blobs_ = std::make_unique<BlobStore>(*BlobStore::Open(dir_ / "blobs"));
    std::filesystem::copy(kModel, dir_ / "model", std::filesystem::copy_options::recursive);
  }
  common::Result<ModelRecord> Register(const std::filesystem::path& dir, const std::string& name = "tiny") {
    return RegisterModel(*store_, *blobs_, dir, name, 1000);
  }
  void Write(const std::filesystem::path& path, std::string_view content) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << content;
  }

  testing::TempDir dir_;
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<BlobStore> blobs_;
};

TEST_F(RegistryTest, AModelIsStoredAndNamedByItsContent) {
  common::Result<ModelRecord> model = Register(kModel, "llama");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_EQ(model->name, "llama");
  std::vector<std::string> paths;
  for (const ModelFile& file : model->files) {
    paths.push_back(file.path);
    EXPECT_EQ(*blobs_->Read(file.blob, 0, 1 << 30), *common::ReadFileToString(kModel / file.path, 1 << 30)) << file.path;
    EXPECT_EQ(file.bytes, static_cast<int64_t>(std::filesystem::file_size(kModel / file.path)));
  }
  EXPECT_EQ(paths, (std::vector<std::string>{"config.json", "expected.json", "expected.safetensors", "model.safetensors"}));
  // Every tensor of every *.safetensors file counts, as read independently here.
  int64_t parameters = 0;
  for (const char* file : {"expected.safetensors", "model.safetensors"}) {
    const common::Result<common::SafetensorsFile> weights = common::SafetensorsFile::Open(kModel / file);
    ASSERT_TRUE(weights.ok());
    for (const common::SafetensorsTensor& tensor : weights->header().tensors) {
      int64_t elements = 1;
      for (uint64_t dimension : tensor.shape) elements *= static_cast<int64_t>(dimension);
      parameters += elements;
    }
  }
  EXPECT_GT(parameters, 0);
  EXPECT_EQ(model->parameters, parameters);
  EXPECT_EQ(*store_->GetModel(model->hash), *model);

  // The same bytes elsewhere, under another name: the same model, registered once.
  common::Result<ModelRecord> again = Register(dir_ / "model", "renamed");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->hash, model->hash);
  EXPECT_EQ(again->name, "llama");
  EXPECT_EQ(store_->ListModels()->size(), 1u);
}

TEST_F(RegistryTest, OneChangedByteMakesAnotherModel) {
  const std::string original = Register(dir_ / "model")->hash;
  std::string config = *common::ReadFileToString(dir_ / "model" / "config.json", 1 << 20);
  Write(dir_ / "model" / "config.json", config + " ");
  common::Result<ModelRecord> changed = Register(dir_ / "model");
  ASSERT_TRUE(changed.ok());
  EXPECT_NE(changed->hash, original);
}

TEST_F(RegistryTest, RefusesPickledWeights) {
  Write(dir_ / "model" / "pytorch_model.bin", "not loaded, ever");
  common::Result<ModelRecord> model = Register(dir_ / "model");
  ASSERT_FALSE(model.ok());
  EXPECT_EQ(model.status().code(), common::StatusCode::kInvalidArgument);
  EXPECT_NE(model.status().message().find("pytorch_model.bin"), std::string::npos) << model.status().message();
  EXPECT_TRUE(store_->ListModels()->empty());
}

TEST_F(RegistryTest, RefusesADirectoryWithoutConfigOrWithBrokenWeights) {
  std::filesystem::remove(dir_ / "model" / "config.json");
  common::Result<ModelRecord> no_config = Register(dir_ / "model");
  ASSERT_FALSE(no_config.ok());
  EXPECT_NE(no_config.status().message().find("no config.json"), std::string::npos);

  std::filesystem::copy(kModel / "config.json", dir_ / "model" / "config.json");
  std::filesystem::resize_file(dir_ / "model" / "model.safetensors", 100);
  common::Result<ModelRecord> truncated = Register(dir_ / "model");
  ASSERT_FALSE(truncated.ok());
  EXPECT_NE(truncated.status().message().find("model.safetensors"), std::string::npos) << truncated.status().message();

  EXPECT_EQ(Register(dir_ / "missing").status().code(), common::StatusCode::kNotFound);
  EXPECT_TRUE(store_->ListModels()->empty());
}

TEST_F(RegistryTest, FilesLinkedFromElsewhereKeepTheirNamesHere) {
  // Hugging Face's cache: snapshots/<revision>/<file> -> ../../blobs/<sha>.
  std::filesystem::create_directories(dir_ / "cache" / "blobs");
  std::filesystem::create_directories(dir_ / "cache" / "snapshots" / "main");
  for (const char* file : {"config.json", "model.safetensors"}) {
    std::filesystem::copy_file(kModel / file, dir_ / "cache" / "blobs" / (std::string(file) + ".sha"));
    std::filesystem::create_symlink(std::filesystem::path("../../blobs") / (std::string(file) + ".sha"),
                                    dir_ / "cache" / "snapshots" / "main" / file);
  }
  common::Result<ModelRecord> model = Register(dir_ / "cache" / "snapshots" / "main");
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  ASSERT_EQ(model->files.size(), 2u);
  EXPECT_EQ(model->files[0].path, "config.json");
  EXPECT_EQ(model->files[1].path, "model.safetensors");
}

TEST_F(RegistryTest, SkipsHiddenEntries) {
  const std::string hash = Register(dir_ / "model")->hash;
  std::filesystem::create_directories(dir_ / "model" / ".git" / "objects");
  Write(dir_ / "model" / ".git" / "objects" / "pack", "git's own");
  Write(dir_ / "model" / ".DS_Store", "finder's own");
  EXPECT_EQ(Register(dir_ / "model")->hash, hash);
}

TEST_F(RegistryTest, ADatasetIsNamedByTheHashOfItsBytes) {
  const std::string rows = "{\"instruction\": \"add\", \"output\": \"4\"}\n";
  Write(dir_ / "train.jsonl", rows);
  common::Result<DatasetRecord> dataset = RegisterDataset(*store_, *blobs_, dir_ / "train.jsonl", "arith", 1000);
  ASSERT_TRUE(dataset.ok()) << dataset.status().ToString();
  EXPECT_EQ(dataset->format, "jsonl");
  EXPECT_EQ(dataset->bytes, static_cast<int64_t>(rows.size()));
  EXPECT_EQ(*blobs_->Read(dataset->hash, 0, 1 << 20), rows);
  EXPECT_EQ(*store_->GetDataset(dataset->hash), *dataset);
}

TEST_F(RegistryTest, RefusesDatasetsThatAreNotJsonlOrCsvText) {
  Write(dir_ / "rows.txt", "text\n");
  Write(dir_ / "empty.csv", "\n\n");
  Write(dir_ / "latin1.csv", "name\ncaf\xe9\n");
  for (const auto& [file, expected] : {std::pair{"rows.txt", ".jsonl or .csv"}, std::pair{"empty.csv", "empty"},
                                       std::pair{"latin1.csv", "not UTF-8 (byte 8)"}}) {
    common::Result<DatasetRecord> dataset = RegisterDataset(*store_, *blobs_, dir_ / file, "bad", 1000);
    ASSERT_FALSE(dataset.ok()) << file;
    EXPECT_NE(dataset.status().message().find(expected), std::string::npos) << dataset.status().message();
  }
  EXPECT_TRUE(store_->ListDatasets()->empty());
}

}  // namespace
}  // namespace gradients::validator

namespace gradients::validator {
namespace {

TEST(DefaultContentName, IsTheDirectorysNameOrTheFilesStem) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "TinyLlama-1.1B");
  EXPECT_EQ(DefaultContentName(dir / "TinyLlama-1.1B"), "TinyLlama-1.1B");
  EXPECT_EQ(DefaultContentName((dir / "TinyLlama-1.1B").string() + "/"), "TinyLlama-1.1B");
  EXPECT_EQ(DefaultContentName(dir / "alpaca.jsonl"), "alpaca");
}

}  // namespace
}  // namespace gradients::validator

namespace gradients::validator {
namespace {

TEST(DataDirectory, AnExistingDirectoryOthersCanReadIsRefused) {
  testing::TempDir dir;
  std::filesystem::create_directories(dir / "data");
  std::filesystem::permissions(dir / "data", std::filesystem::perms(0755));
  common::Result<DataDirectory> data = OpenDataDirectory(dir / "data");
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.status().code(), common::StatusCode::kPermissionDenied);
  EXPECT_NE(data.status().message().find("chmod 700"), std::string::npos) << data.status().message();
  EXPECT_FALSE(std::filesystem::exists(dir / "data" / "state.db"));
  std::filesystem::permissions(dir / "data", std::filesystem::perms(0700));
  EXPECT_TRUE(OpenDataDirectory(dir / "data").ok());
}

}  // namespace
}  // namespace gradients::validator
