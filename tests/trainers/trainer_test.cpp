// Whole fine-tuning runs on the tiny preset (hidden 64, 2 layers, the 512-piece SentencePiece
// tokenizer): learning, exact resume, budgets, early stopping and keep-best, outputs.
#include "trainers/trainer.h"

#include <gtest/gtest.h>
#include <torch/types.h>

#include "common/config.h"
#include "tests/support/temp_dir.h"
#include "trainers/evaluate.h"
#include "trainers/init_model.h"
#include "trainers/lora_adapter.h"
#include "trainers/lora_training.h"
#include "trainers/model_loader.h"
#include "text/tokenizer.h"
#include "trainers/train_checkpoint.h"

namespace gradients::train {
namespace {

const std::filesystem::path kTokenizer = std::filesystem::path(GRADIENTS_TEST_DATA_DIR) / "models/tokenizer_sp512";

// Question-answer rows with a learnable pattern: the answer names the colour of a fruit and every
// answer has the same shape, so held-out rows (other fruits) share what training teaches.
std::vector<nlohmann::json> InstructRows(int begin, int end) {
  static const char* kFruits[] = {"apple", "banana", "cherry", "grape", "lemon", "lime", "mango", "orange",
                                  "peach", "pear", "plum", "berry", "melon", "kiwi", "fig", "date"};
  static const char* kColours[] = {"red", "yellow", "green", "purple", "blue", "orange", "pink", "brown"};
  std::vector<nlohmann::json> rows;
  for (int i = begin; i < end; ++i) {
    std::string fruit = kFruits[i % 16];
    std::string colour = kColours[(i * 7) % 8];
    rows.push_back({{"instruction", "What colour is the " + fruit + " number " + std::to_string(i) + "?"},
                    {"output", "The " + fruit + " is " + colour + "."}});
  }
  return rows;
}

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    InitModelOptions init;
    init.preset = "tiny";
    init.tokenizer = kTokenizer;
    init.seed = 5;
    ASSERT_TRUE(InitModel(model_dir(), init).ok());
    tokenizer_ = std::move(text::LoadTokenizer(model_dir())).value();
  }

  std::filesystem::path model_dir() const { return dir_ / "model"; }

  std::vector<text::TokenizedExample> Tokenize(const std::vector<nlohmann::json>& rows, text::DatasetFormat format) {
    const std::filesystem::path file = dir_ / ("data" + std::to_string(files_++) + ".jsonl");
    EXPECT_TRUE(text::WriteDatasetRows(file, rows, text::DatasetFileFormat::kJsonl).ok());
    text::DatasetOptions options;
    options.format = format;
    options.max_length = 64;
    return std::move(text::LoadTokenizedDataset(file, *tokenizer_, options)).value();
  }

  static Hyperparameters SmallRun() {
    Hyperparameters hp;
    hp.learning_rate = 3e-3;
    hp.warmup_steps = 1;
    hp.micro_batch_size = 4;
    hp.gradient_accumulation_steps = 2;
    hp.max_length = 64;
    hp.validation_fraction = 0;
    hp.lora.r = 4;
    hp.lora.alpha = 8;
    return hp;
  }

  struct Run {
    TrainResult result;
    std::vector<double> losses;  // per step, from the progress reports
  };

  common::Result<Run> Train(const Hyperparameters& hp, const std::filesystem::path& out, std::vector<text::TokenizedExample> data,
                    bool resume = false, int64_t cancel_at_step = 0) {
    Run run;
    std::atomic<bool> cancel{false};
    TrainOptions options;
    options.hyperparameters = hp;
    options.model_dir = model_dir();
    options.out_dir = out;
    options.resume = resume;
    options.cancel = &cancel;
    options.on_progress = [&](const TrainProgress& progress) {
      if (progress.event != ProgressEvent::kStep) return;
      run.losses.push_back(progress.loss);
      if (progress.step == cancel_at_step) cancel = true;
    };
    GRADIENTS_ASSIGN_OR_RETURN(run.result, gradients::train::Train(options, std::move(data), 0));
    return run;
  }

  double HeldOutLoss(const std::vector<text::TokenizedExample>& held_out, const std::filesystem::path& adapter = {}) {
    ModelLoadOptions load;
    load.adapter = adapter;
    CausalLm model = std::move(LoadCausalLm(model_dir(), load)).value();
    return EvaluateLoss(model, held_out)->loss;
  }

  testing::TempDir dir_;
  std::unique_ptr<text::Tokenizer> tokenizer_;
  int files_ = 0;
};

TEST_F(TrainerTest, FineTuningTheTinyPresetOnInstructionsLowersTheHeldOutLoss) {
  std::vector<text::TokenizedExample> train = Tokenize(InstructRows(0, 96), text::DatasetFormat::kInstruct);
  std::vector<text::TokenizedExample> held_out = Tokenize(InstructRows(200, 232), text::DatasetFormat::kInstruct);
  Hyperparameters hp = SmallRun();
  hp.epochs = 4;
  hp.lora.r = 8;
  hp.lora.alpha = 16;
  hp.learning_rate = 1e-2;
  common::Result<Run> run = Train(hp, dir_ / "out", train);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->result.stop_reason, StopReason::kCompleted);
  EXPECT_EQ(run->result.steps, 48);  // 96 rows / 4 per micro-batch / 2 per step * 4 epochs
  const double before = HeldOutLoss(held_out);
  const double after = HeldOutLoss(held_out, dir_ / "out");
  // From about ln(512) = 6.24 (a random model) by more than half a nat.
  EXPECT_LT(after, before - 0.5) << "before " << before << ", after " << after;

  hp.mode = TrainingMode::kFull;
  hp.learning_rate = 3e-3;
  hp.epochs = 2;
  ASSERT_TRUE(Train(hp, dir_ / "full", train).ok());
  CausalLm tuned = *LoadCausalLm(dir_ / "full");
  const double full_after = EvaluateLoss(tuned, held_out)->loss;
  EXPECT_LT(full_after, before - 1.5) << "before " << before << ", after full fine-tuning " << full_after;
}

TEST_F(TrainerTest, AResumedRunHasTheLossCurveAndResultOfAnUninterruptedOne) {
  std::vector<text::TokenizedExample> data = Tokenize(InstructRows(0, 40), text::DatasetFormat::kInstruct);
  for (TrainingMode mode : {TrainingMode::kLora, TrainingMode::kFull}) {
    const std::string mode_name(common::EnumName(mode));
    Hyperparameters hp = SmallRun();
    hp.mode = mode;
    hp.max_steps = 6;
    hp.packing = true;     // packed rows, shuffled per epoch (6 steps span several epochs)
    hp.lora.dropout = 0.2;  // the dropout generator's state must be restored too
    hp.weight_decay = 0.01;
    // Evaluations and their early-stopping bookkeeping too; the stop at step 3 falls between two.
    hp.validation_fraction = 0.2;
    hp.eval_every_steps = 2;
    hp.early_stopping_patience = 3;
    common::Result<Run> whole = Train(hp, dir_ / (mode_name + "-whole"), data);
    ASSERT_TRUE(whole.ok()) << whole.status().message();
    common::Result<Run> first = Train(hp, dir_ / (mode_name + "-parts"), data, false, /*cancel_at_step=*/3);
    ASSERT_TRUE(first.ok()) << first.status().message();
    EXPECT_EQ(first->result.stop_reason, StopReason::kCancelled);
    EXPECT_EQ(first->result.steps, 3);
    common::Result<Run> second = Train(hp, dir_ / (mode_name + "-parts"), data, /*resume=*/true);
    ASSERT_TRUE(second.ok()) << second.status().message();
    EXPECT_EQ(second->result.steps, 6);
    std::vector<double> resumed = first->losses;
    resumed.insert(resumed.end(), second->losses.begin(), second->losses.end());
    ASSERT_EQ(whole->losses.size(), 6u) << mode_name;
    EXPECT_EQ(resumed, whole->losses) << mode_name;  // exactly: same data, weights, moments and dropout masks
    NamedTensors a = *ReadTensorFile(dir_ / (mode_name + "-whole") / "checkpoint" / "trainable.safetensors");
    NamedTensors b = *ReadTensorFile(dir_ / (mode_name + "-parts") / "checkpoint" / "trainable.safetensors");
    ASSERT_EQ(a.size(), b.size());
    for (const auto& [name, tensor] : a) EXPECT_TRUE(torch::equal(tensor, b.at(name))) << mode_name << " " << name;
    EXPECT_EQ(second->result.best_step, whole->result.best_step) << mode_name;
    EXPECT_EQ(second->result.best_validation_loss, whole->result.best_validation_loss) << mode_name;
  }
}

TEST_F(TrainerTest, ResumingWithOtherHyperparametersOrDataIsRefused) {
  std::vector<text::TokenizedExample> data = Tokenize(InstructRows(0, 16), text::DatasetFormat::kInstruct);
  Hyperparameters hp = SmallRun();
  hp.max_steps = 2;
  ASSERT_TRUE(Train(hp, dir_ / "out", data).ok());
  Hyperparameters other = hp;
  other.learning_rate = 1e-4;
  EXPECT_EQ(Train(other, dir_ / "out", data, true).status().message(),
            "cannot resume: the hyperparameters differ from those of " + (dir_ / "out" / "checkpoint").string());
  std::vector<text::TokenizedExample> other_data = Tokenize(InstructRows(1, 17), text::DatasetFormat::kInstruct);
  EXPECT_EQ(Train(hp, dir_ / "out", other_data, true).status().message(),
            "cannot resume: the data (or its tokenization) differs from that of " +
                (dir_ / "out" / "checkpoint").string());
  // Another base model with the same shapes.
  InitModelOptions init;
  init.tokenizer = kTokenizer;
  init.seed = 6;
  ASSERT_TRUE(InitModel(dir_ / "other-model", init).ok());
  TrainOptions other_model;
  other_model.hyperparameters = hp;
  other_model.model_dir = dir_ / "other-model";
  other_model.out_dir = dir_ / "out";
  other_model.resume = true;
  EXPECT_EQ(gradients::train::Train(other_model, data, 0).status().message(),
            "cannot resume: the model differs from the one " + (dir_ / "out" / "checkpoint").string() +
                " was trained on");
  EXPECT_EQ(Train(hp, dir_ / "nothing", data, true).status().message(),
            "no checkpoint in " + (dir_ / "nothing" / "checkpoint").string());
}

TEST_F(TrainerTest, BudgetsStopTheRunAndTheResultIsStillWritten) {
  std::vector<text::TokenizedExample> data = Tokenize(InstructRows(0, 32), text::DatasetFormat::kInstruct);
  Hyperparameters hp = SmallRun();
  hp.epochs = 4;
  hp.max_train_tokens = 300;
  common::Result<Run> by_tokens = Train(hp, dir_ / "tokens", data);
  ASSERT_TRUE(by_tokens.ok()) << by_tokens.status().message();
  EXPECT_EQ(by_tokens->result.stop_reason, StopReason::kMaxTrainTokens);
  EXPECT_GE(by_tokens->result.tokens, 300);
  EXPECT_LT(by_tokens->result.steps, by_tokens->result.total_steps);

  hp.max_train_tokens = 0;
  hp.max_steps = 3;
  common::Result<Run> by_steps = Train(hp, dir_ / "steps", data);
  ASSERT_TRUE(by_steps.ok());
  EXPECT_EQ(by_steps->result.stop_reason, StopReason::kMaxSteps);
  EXPECT_EQ(by_steps->result.steps, 3);

  TrainOptions options;
  options.hyperparameters = SmallRun();
  options.model_dir = model_dir();
  options.out_dir = dir_ / "late";
  options.deadline = std::chrono::system_clock::now() - std::chrono::seconds(1);
  common::Result<TrainResult> late = gradients::train::Train(options, data, 0);
  ASSERT_TRUE(late.ok()) << late.status().message();
  EXPECT_EQ(late->stop_reason, StopReason::kDeadline);
  EXPECT_EQ(late->steps, 0);
  // A fresh adapter (B = 0) is still a valid result.
  EXPECT_TRUE(LoadLoraAdapter(dir_ / "late").ok());
}

TEST_F(TrainerTest, EarlyStoppingEndsARunWhoseValidationLossStopsImproving) {
  std::vector<text::TokenizedExample> data = Tokenize(InstructRows(0, 40), text::DatasetFormat::kInstruct);
  Hyperparameters hp = SmallRun();
  hp.learning_rate = 0;  // nothing changes, so no evaluation improves on the first
  hp.validation_fraction = 0.2;
  hp.eval_every_steps = 1;
  hp.early_stopping_patience = 2;
  hp.epochs = 10;
  common::Result<Run> run = Train(hp, dir_ / "out", data);
  ASSERT_TRUE(run.ok()) << run.status().message();
  EXPECT_EQ(run->result.stop_reason, StopReason::kEarlyStopping);
  EXPECT_EQ(run->result.steps, 3);
  EXPECT_EQ(run->result.best_step, 1);
  EXPECT_EQ(run->result.validation_examples, 8);
  ASSERT_TRUE(run->result.best_validation_loss.has_value());
}

TEST_F(TrainerTest, KeepBestWritesTheWeightsOfTheBestEvaluation) {
  std::vector<text::TokenizedExample> data = Tokenize(InstructRows(0, 40), text::DatasetFormat::kInstruct);
  Hyperparameters hp = SmallRun();
  hp.mode = TrainingMode::kFull;
  hp.learning_rate = 0.05;  // far too large: the validation loss gets worse after the first step
  hp.lr_scheduler = LearningRateSchedule::kConstant;
  hp.warmup_steps = 0;
  hp.validation_fraction = 0.2;
  hp.eval_every_steps = 1;
  hp.max_steps = 3;
  common::Result<Run> run = Train(hp, dir_ / "out", data);
  ASSERT_TRUE(run.ok()) << run.status().message();
  ASSERT_LT(run->result.best_step, run->result.steps) << "the loss did not get worse; the test proves nothing";
  NamedTensors best = *ReadTensorFile(dir_ / "out" / "checkpoint" / "best.safetensors");
  NamedTensors last = *ReadTensorFile(dir_ / "out" / "checkpoint" / "trainable.safetensors");
  CausalLm written = *LoadCausalLm(dir_ / "out");
  for (const auto& item : written->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), best.at(item.key()))) << item.key();
  }
  EXPECT_FALSE(torch::equal(written->model->norm->weight, last.at("model.norm.weight")));
  nlohmann::json summary = *common::ReadJsonFile(dir_ / "out" / "training_summary.json");
  EXPECT_EQ(summary["best_step"], run->result.best_step);
  EXPECT_EQ(summary["stop_reason"], "max_steps");
  EXPECT_EQ(summary["hyperparameters"]["mode"], "full");
  EXPECT_EQ(summary["hyperparameters"]["lr_scheduler"], "constant");
}

TEST_F(TrainerTest, AnAdapterInTheForwardPassEvaluatesAsTheMergedModel) {
  std::vector<text::TokenizedExample> data = Tokenize(InstructRows(0, 24), text::DatasetFormat::kInstruct);
  Hyperparameters hp = SmallRun();
  hp.max_steps = 4;
  hp.lora.use_rslora = true;
  ASSERT_TRUE(Train(hp, dir_ / "out", data).ok());
  LoraAdapter adapter = *LoadLoraAdapter(dir_ / "out");
  EXPECT_TRUE(adapter.config.use_rslora);
  CausalLm unmerged = *LoadCausalLm(model_dir());
  ASSERT_TRUE(AttachLoraWeights(unmerged, adapter, 0.0, at::detail::createCPUGenerator(0)).ok());
  unmerged->eval();
  const double with_adapter = EvaluateLoss(unmerged, data)->loss;
  const double merged = HeldOutLoss(data, dir_ / "out");
  EXPECT_NEAR(with_adapter, merged, 1e-5);
  EXPECT_GT(std::abs(merged - HeldOutLoss(data)), 1e-3);  // the adapter does something
}

TEST_F(TrainerTest, FullFineTuningWritesAModelThatLoadsWithItsTokenizer) {
  std::vector<text::TokenizedExample> data = Tokenize(InstructRows(0, 24), text::DatasetFormat::kInstruct);
  Hyperparameters hp = SmallRun();
  hp.mode = TrainingMode::kFull;
  hp.max_steps = 3;
  ASSERT_TRUE(Train(hp, dir_ / "out", data).ok());
  common::Result<CausalLm> model = LoadCausalLm(dir_ / "out");
  ASSERT_TRUE(model.ok()) << model.status().message();
  EXPECT_TRUE(text::LoadTokenizer(dir_ / "out").ok());
  CausalLm base = *LoadCausalLm(model_dir());
  EXPECT_FALSE(torch::equal((*model)->model->norm->weight, base->model->norm->weight));
}

TEST_F(TrainerTest, TokenIdsOutsideTheModelsVocabularyAreAnErrorBeforeTraining) {
  std::vector<text::TokenizedExample> data = Tokenize(InstructRows(0, 8), text::DatasetFormat::kInstruct);
  data[2].input_ids[1] = 512;  // the tiny preset with this tokenizer has 512 ids
  common::Result<Run> run = Train(SmallRun(), dir_ / "out", data);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().message(), "example 3: token id 512 is outside the model's vocabulary of 512");
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out" / "checkpoint"));
}

TEST_F(TrainerTest, ADivergingRunStopsWithAnErrorInsteadOfWritingBrokenWeights) {
  std::vector<text::TokenizedExample> data = Tokenize(InstructRows(0, 16), text::DatasetFormat::kInstruct);
  Hyperparameters hp = SmallRun();
  hp.mode = TrainingMode::kFull;
  hp.learning_rate = 1e30;  // weights overflow float32 within a few steps
  hp.lr_scheduler = LearningRateSchedule::kConstant;
  hp.warmup_steps = 0;
  hp.max_grad_norm = 0;
  hp.max_steps = 8;
  common::Result<Run> run = Train(hp, dir_ / "out", data);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().code(), common::StatusCode::kDiverged);
  EXPECT_NE(run.status().message().find("training diverged: the loss is "), std::string::npos)
      << run.status().message();
  EXPECT_FALSE(std::filesystem::exists(dir_ / "out" / "model.safetensors"));
}

TEST_F(TrainerTest, AnUnknownTargetModuleIsAnErrorNamingIt) {
  std::vector<text::TokenizedExample> data = Tokenize(InstructRows(0, 8), text::DatasetFormat::kInstruct);
  Hyperparameters hp = SmallRun();
  hp.lora.target_modules = {"q_proj", "qkv_proj"};
  common::Result<Run> run = Train(hp, dir_ / "out", data);
  ASSERT_FALSE(run.ok());
  EXPECT_EQ(run.status().message(),
            "lora.target_modules: \"qkv_proj\" is not a projection of this model (down_proj, gate_proj, k_proj, "
            "o_proj, q_proj, up_proj, v_proj)");
}

}  // namespace
}  // namespace gradients::train
