// `gradients init-model`, `eval`, `generate` and `tokenize`, run as real processes.
#include <cmath>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/durable_file.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"

namespace gradients::cli {
namespace {

using testing::ProcessResult;
using testing::RunProcess;

const std::filesystem::path kData = GRADIENTS_TEST_DATA_DIR;
const std::string kTokenizer = (kData / "models/tokenizer_sp512/tokenizer.model").string();

testing::ProcessResult Gradients(std::vector<std::string> args) {
  args.insert(args.begin(), GRADIENTS_CLI_PATH);
  return testing::RunProcess(args);
}

// A tiny model with the 512-piece SentencePiece tokenizer, made once for the whole suite.
class ModelCommands : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir;
    testing::ProcessResult init = Gradients({"init-model", "--preset", "tiny", "--out", Model(), "--tokenizer", kTokenizer,
                                    "--seed", "5"});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    init_output_ = new nlohmann::json(nlohmann::json::parse(init.out));
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete init_output_;
  }
  static std::string Model() { return (*dir_ / "tiny").string(); }

  static testing::TempDir* dir_;
  static nlohmann::json* init_output_;
};
testing::TempDir* ModelCommands::dir_ = nullptr;
nlohmann::json* ModelCommands::init_output_ = nullptr;

TEST_F(ModelCommands, InitModelWritesAHuggingFaceDirectorySizedByTheTokenizer) {
  EXPECT_EQ((*init_output_)["vocab_size"], 512);
  EXPECT_LT((*init_output_)["parameters"].get<int64_t>(), 1000000);
  for (const char* file : {"config.json", "model.safetensors", "tokenizer.model"}) {
    EXPECT_TRUE(std::filesystem::exists(std::filesystem::path(Model()) / file)) << file;
  }
  testing::ProcessResult inspect = Gradients({"inspect", Model() + "/model.safetensors"});
  EXPECT_EQ(inspect.exit_code, 0) << inspect.err;
}

TEST_F(ModelCommands, EvalOfAnUntrainedModelIsNearTheUniformLoss) {
  testing::ProcessResult eval = Gradients({"eval", "--model", Model(), "--data", (kData / "datasets/text.jsonl").string(),
                                  "--format", "text"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
  nlohmann::json result = nlohmann::json::parse(eval.out);
  EXPECT_NEAR(result["loss"].get<double>(), std::log(512.0), 0.1);
  EXPECT_EQ(result["documents"], 2);  // the blank line is no row
  EXPECT_GT(result["tokens"].get<int64_t>(), 3);
}

TEST_F(ModelCommands, EvalIsDeterministic) {
  std::vector<std::string> args = {"eval", "--model", Model(), "--data",
                                   (kData / "datasets/instruct_mapped.jsonl").string(), "--format", "instruct",
                                   "--columns", "instruction=question,input=context,output=answer,system=persona"};
  testing::ProcessResult first = Gradients(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(Gradients(args).out, first.out);
}

TEST_F(ModelCommands, EvalErrorsNameTheFileRowAndField) {
  testing::ProcessResult eval = Gradients({"eval", "--model", Model(), "--data",
                                  (kData / "datasets/instruct_bad_output.jsonl").string(), "--format", "instruct",
                                  "--columns", "instruction=question,output=answer"});
  EXPECT_EQ(eval.exit_code, 1);
  EXPECT_NE(eval.err.find("instruct_bad_output.jsonl: row 3: field \"output\" (column \"answer\"): expected a "
                          "string, got 5"),
            std::string::npos)
      << eval.err;
  testing::ProcessResult bad_format = Gradients({"eval", "--model", Model(), "--data",
                                        (kData / "datasets/text.jsonl").string(), "--format", "jsonl"});
  EXPECT_EQ(bad_format.exit_code, 1);
  EXPECT_NE(bad_format.err.find("unknown dataset format \"jsonl\""), std::string::npos) << bad_format.err;
}

TEST_F(ModelCommands, EvalRefusesTokensOutsideTheModelsVocabulary) {
  // The fixture model has 128 ids; the 512-piece tokenizer produces larger ones.
  testing::TempDir dir;
  std::filesystem::copy(kData / "models/llama_mha", dir / "m");
  std::filesystem::copy_file(kTokenizer, dir / "m" / "tokenizer.model");
  testing::ProcessResult eval = Gradients({"eval", "--model", (dir / "m").string(), "--data",
                                  (kData / "datasets/text.jsonl").string()});
  EXPECT_EQ(eval.exit_code, 1);
  EXPECT_NE(eval.err.find("outside the vocabulary of 128"), std::string::npos) << eval.err;
}

TEST_F(ModelCommands, GenerateIsReproducibleForASeed) {
  std::vector<std::string> args = {"generate", "--model", Model(), "--prompt", "The model",
                                   "--max-new", "12", "--temperature", "0.8", "--seed", "3"};
  testing::ProcessResult first = Gradients(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  EXPECT_FALSE(first.out.empty());
  EXPECT_EQ(Gradients(args).out, first.out);
}

TEST_F(ModelCommands, TokenizeWritesOneIdArrayPerInputLine) {
  testing::TempDir dir;
  ASSERT_TRUE(common::WriteFileDurably(dir / "in.txt", "\"hello world\"\n\"\"\n").ok());
  testing::ProcessResult result = testing::RunProcess({"/bin/sh", "-c",
                                     std::string(GRADIENTS_CLI_PATH) + " tokenize --tokenizer " + kTokenizer +
                                         " --add-special < " + (dir / "in.txt").string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::vector<nlohmann::json> lines;
  size_t start = 0;
  for (size_t end; (end = result.out.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(nlohmann::json::parse(result.out.substr(start, end - start)));
  }
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0][0], 1) << "BOS first with --add-special";
  EXPECT_GT(lines[0].size(), 2u);
  EXPECT_EQ(lines[1], nlohmann::json({1}));
}

TEST_F(ModelCommands, InitModelRejectsAnUnknownPreset) {
  testing::ProcessResult result = Gradients({"init-model", "--preset", "huge", "--out", (*dir_ / "x").string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("unknown preset \"huge\""), std::string::npos) << result.err;
}

}  // namespace
}  // namespace gradients::cli

namespace gradients::cli {
namespace {

TEST(ModelCommandsOptions, AnUnknownDtypeIsRefusedByInitModelAndEval) {
  testing::TempDir dir;
  testing::ProcessResult init = Gradients({"init-model", "--out", (dir / "m").string(), "--dtype", "float8"});
  EXPECT_EQ(init.exit_code, 1);
  EXPECT_NE(init.err.find("--dtype must be float32 or bfloat16, got \"float8\""), std::string::npos) << init.err;
  EXPECT_FALSE(std::filesystem::exists(dir / "m"));
  testing::ProcessResult eval = Gradients({"eval", "--model", (kData / "models/llama_mha").string(), "--data",
                                  (kData / "datasets/text.jsonl").string(), "--dtype", "float8"});
  EXPECT_EQ(eval.exit_code, 1);
  EXPECT_NE(eval.err.find("--dtype must be float32 or bfloat16, got \"float8\""), std::string::npos) << eval.err;
}

}  // namespace
}  // namespace gradients::cli
