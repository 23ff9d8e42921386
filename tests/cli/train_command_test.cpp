// `gradients train`, run as a real process: outputs, metrics, resume and its errors.
#include <fstream>

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

testing::ProcessResult Gradients(std::vector<std::string> args) {
  args.insert(args.begin(), GRADIENTS_CLI_PATH);
  return testing::RunProcess(args);
}

class TrainCommand : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::ProcessResult init = Gradients({"init-model", "--preset", "tiny", "--out", Path("model"), "--tokenizer",
                                    (kData / "models/tokenizer_sp512/tokenizer.model").string()});
    ASSERT_EQ(init.exit_code, 0) << init.err;
    std::string rows;
    for (int i = 0; i < 48; ++i) {
      rows += nlohmann::json{{"question", "What is " + std::to_string(i) + " plus one?"},
                             {"answer", std::to_string(i + 1) + "."}}
                  .dump() +
              "\n";
    }
    ASSERT_TRUE(common::WriteFileDurably(Path("data.jsonl"), rows).ok());
    ASSERT_TRUE(common::WriteFileDurably(Path("hp.json"), R"({"max_steps": 6, "micro_batch_size": 4,
        "gradient_accumulation_steps": 1, "validation_fraction": 0.1, "eval_every_steps": 3,
        "learning_rate": 0.003, "lora": {"r": 4, "alpha": 8}})")
                    .ok());
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  testing::ProcessResult Train(const std::string& out, std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"train",  "--model",   Path("model"), "--data",   Path("data.jsonl"),
                                     "--format", "instruct", "--columns", "instruction=question,output=answer",
                                     "--out",  Path(out),   "--config",    Path("hp.json"), "--device", "cpu"};
    args.insert(args.end(), extra.begin(), extra.end());
    return Gradients(args);
  }

  testing::TempDir dir_;
};

TEST_F(TrainCommand, WritesAnAdapterThatEvalLoadsAndMetricsAsJsonLines) {
  testing::ProcessResult run = Train("out", {"--metrics", Path("metrics.jsonl"), "--log-every", "2"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  nlohmann::json summary = nlohmann::json::parse(run.out);
  EXPECT_EQ(summary["steps"], 6);
  EXPECT_EQ(summary["stop_reason"], "max_steps");
  EXPECT_EQ(summary["mode"], "lora");
  EXPECT_TRUE(summary["best_validation_loss"].is_number());
  // Not a terminal: one line per report, no progress bar.
  EXPECT_NE(run.err.find("step 2/6  loss "), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find('\r'), std::string::npos);

  std::ifstream metrics(Path("metrics.jsonl"));
  std::string line;
  int steps = 0, evals = 0;
  while (std::getline(metrics, line)) {
    nlohmann::json record = nlohmann::json::parse(line);
    for (const char* key : {"step", "total_steps", "loss", "learning_rate", "tokens", "tokens_per_second",
                            "eta_seconds", "epoch", "grad_norm", "elapsed_seconds"}) {
      EXPECT_TRUE(record.contains(key)) << key << " in " << line;
    }
    if (record["event"] == "step") ++steps;
    if (record["event"] == "eval") {
      ++evals;
      EXPECT_TRUE(record["validation_loss"].is_number());
    }
  }
  EXPECT_EQ(steps, 3);
  EXPECT_EQ(evals, 2);

  testing::ProcessResult eval = Gradients({"eval", "--model", Path("model"), "--adapter", Path("out"), "--data",
                                  Path("data.jsonl"), "--format", "instruct", "--columns",
                                  "instruction=question,output=answer"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
}

TEST_F(TrainCommand, FullModeWritesAModelThatEvalLoads) {
  testing::ProcessResult run = Train("full", {"--mode", "full"});
  ASSERT_EQ(run.exit_code, 0) << run.err;
  for (const char* file : {"config.json", "model.safetensors", "tokenizer.model", "training_summary.json"}) {
    EXPECT_TRUE(std::filesystem::exists(dir_ / "full" / file)) << file;
  }
  testing::ProcessResult eval = Gradients({"eval", "--model", Path("full"), "--data", Path("data.jsonl"), "--format",
                                  "instruct", "--columns", "instruction=question,output=answer"});
  ASSERT_EQ(eval.exit_code, 0) << eval.err;
}

TEST_F(TrainCommand, ResumeContinuesAndAFinishedDirectoryIsNotOverwritten) {
  ASSERT_EQ(Train("out").exit_code, 0);
  testing::ProcessResult again = Train("out");
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_EQ(again.err, "gradients train: --out " + Path("out") +
                           " exists and is not empty; pass --resume to continue its run, or choose another "
                           "directory\n");
  // The run already reached max_steps: resuming writes the same result again and trains no more.
  testing::ProcessResult resumed = Train("out", {"--resume"});
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(nlohmann::json::parse(resumed.out)["steps"], 6);
}

TEST_F(TrainCommand, BadFlagsAndConfigsAreErrorsNamingThem) {
  testing::ProcessResult mode = Train("a", {"--mode", "qlora"});
  EXPECT_EQ(mode.exit_code, 1);
  EXPECT_EQ(mode.err, "gradients train: --mode must be lora or full, got \"qlora\"\n");

  ASSERT_TRUE(common::WriteFileDurably(Path("bad.json"), R"({"lora": {"r": 0}, "learning_rate": "high"})").ok());
  testing::ProcessResult config = Gradients({"train", "--model", Path("model"), "--data", Path("data.jsonl"), "--out",
                                    Path("b"), "--config", Path("bad.json")});
  EXPECT_EQ(config.exit_code, 1);
  EXPECT_NE(config.err.find("learning_rate"), std::string::npos) << config.err;
  EXPECT_NE(config.err.find("lora.r"), std::string::npos) << config.err;

  testing::ProcessResult resume = Train("c", {"--resume"});
  EXPECT_EQ(resume.exit_code, 1);
  EXPECT_EQ(resume.err, "gradients train: --resume: no checkpoint in " + Path("c") + "/checkpoint\n");

  testing::ProcessResult columns = Gradients({"train", "--model", Path("model"), "--data", Path("data.jsonl"), "--format",
                                     "instruct", "--columns", "prompt=question", "--out", Path("d")});
  EXPECT_EQ(columns.exit_code, 1);
  EXPECT_NE(columns.err.find("prompt"), std::string::npos) << columns.err;
  // Nothing was created for the refused runs.
  EXPECT_FALSE(std::filesystem::exists(dir_ / "a"));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "b"));
}

}  // namespace
}  // namespace gradients::cli
