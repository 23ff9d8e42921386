// `gradients model add|list` and `gradients dataset add|list`, run as real processes against a data
// directory, as an operator would.
#include <sys/stat.h>

#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace gradients::cli {
namespace {

using testing::ProcessResult;

const std::filesystem::path kModel = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models" / "llama_mha";

testing::ProcessResult Gradients(std::vector<std::string> args) {
  args.insert(args.begin(), GRADIENTS_CLI_PATH);
  return testing::RunProcess(args);
}

TEST(RegistryCommands, AddedModelsAndDatasetsAreListedFromThePrivateDataDirectory) {
  testing::TempDir dir;
  const std::string data = (dir / "validator").string();
  testing::ProcessResult model = Gradients({"model", "add", "--data-dir", data, kModel.string()});
  ASSERT_EQ(model.exit_code, 0) << model.err;
  const nlohmann::json added = nlohmann::json::parse(model.out);
  EXPECT_EQ(added["name"], "llama_mha");
  EXPECT_EQ(added["hash"].get<std::string>().size(), 64u);
  EXPECT_EQ(added["files"].size(), 4u);

  std::ofstream(dir / "qa.jsonl") << "{\"instruction\": \"2+2\", \"output\": \"4\"}\n";
  testing::ProcessResult dataset = Gradients({"dataset", "add", "--data-dir", data, "--name", "arithmetic",
                                     (dir / "qa.jsonl").string()});
  ASSERT_EQ(dataset.exit_code, 0) << dataset.err;
  EXPECT_EQ(nlohmann::json::parse(dataset.out)["format"], "jsonl");
  EXPECT_EQ(dataset.out.find("seed"), std::string::npos);  // the split seed stays secret

  testing::ProcessResult models = Gradients({"model", "list", "--data-dir", data});
  ASSERT_EQ(models.exit_code, 0) << models.err;
  EXPECT_EQ(nlohmann::json::parse(models.out), nlohmann::json::array({added}));
  testing::ProcessResult datasets = Gradients({"dataset", "list", "--data-dir", data});
  ASSERT_EQ(datasets.exit_code, 0) << datasets.err;
  EXPECT_EQ(nlohmann::json::parse(datasets.out)[0]["name"], "arithmetic");

  struct stat info {};
  ASSERT_EQ(stat(data.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0700u);  // it will hold the hidden test splits
}

TEST(RegistryCommands, ARefusedModelIsNamedWithTheReasonAndNotListed) {
  testing::TempDir dir;
  std::filesystem::copy(kModel, dir / "model", std::filesystem::copy_options::recursive);
  std::ofstream(dir / "model" / "pytorch_model.bin") << "pickle";
  const std::string data = (dir / "validator").string();
  testing::ProcessResult refused = Gradients({"model", "add", "--data-dir", data, (dir / "model").string()});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("gradients model add: "), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("pytorch_model.bin: model weights must be safetensors"), std::string::npos)
      << refused.err;
  testing::ProcessResult models = Gradients({"model", "list", "--data-dir", data});
  EXPECT_EQ(nlohmann::json::parse(models.out), nlohmann::json::array());
}

}  // namespace
}  // namespace gradients::cli
