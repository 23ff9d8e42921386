#include "miner/search_run.h"

#include <gtest/gtest.h>

#include <cstring>
#include <fstream>

#include "common/config.h"
#include "common/durable_file.h"
#include "common/safetensors.h"
#include "tests/miner/validator_process.h"
#include "tests/support/subprocess.h"
#include "tests/support/temp_dir.h"
#include "text/tokenizer.h"

namespace gradients::miner {
namespace {

// Searches on the tiny preset model (CPU) and an instruct split of 40 rows.
class SearchRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(InitTinyModel(dir_.path() / "tiny"));
    std::ofstream rows(dir_.path() / "qa.jsonl");
    for (int i = 0; i < 40; ++i) {
      rows << "{\"instruction\": \"what is " << i << " plus one\", \"output\": \"it is " << i + 1 << "\"}\n";
    }
    rows.close();
    common::Result<std::unique_ptr<text::Tokenizer>> tokenizer = text::LoadTokenizer(dir_.path() / "tiny");
    ASSERT_TRUE(tokenizer.ok()) << tokenizer.status().ToString();
    text::DatasetOptions dataset;
    dataset.format = text::DatasetFormat::kInstruct;
    dataset.max_length = 64;
    common::Result<std::vector<text::TokenizedExample>> examples =
        text::LoadTokenizedDataset(dir_.path() / "qa.jsonl", **tokenizer, dataset);
    ASSERT_TRUE(examples.ok()) << examples.status().ToString();
    examples_ = std::move(*examples);
    for (const text::TokenizedExample& example : examples_) split_tokens_ += static_cast<int64_t>(example.input_ids.size());
  }

  SearchRunOptions Options(const std::string& strategy) {
    SearchRunOptions options;
    common::Result<StrategyOptions> parsed = common::ParseConfig<StrategyOptions>(
        [&] {
          nlohmann::json json = TestStrategy(strategy);
          json["seed"] = 5;
          return json;
        }(),
        "strategy");
    EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
    if (parsed.ok()) options.strategy = *parsed;
    options.model_dir = dir_.path() / "tiny";
    options.run_dir = dir_.path() / "search";
    options.deadline = std::chrono::system_clock::now() + std::chrono::minutes(5);
    options.cpu_threads = 1;
    return options;
  }

  testing::TempDir dir_;
  std::vector<text::TokenizedExample> examples_;
  int64_t split_tokens_ = 0;
};

TEST_F(SearchRunTest, RandomSearchRecordsEveryTrialAndRetrainsTheBestOnTheWholeSplitWithinItsTokenCap) {
  SearchRunOptions options = Options("random");
  options.strategy.max_train_tokens = 3 * split_tokens_;
  common::Result<SearchOutcome> outcome = RunSearch(options, examples_, 0);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  ASSERT_EQ(outcome->trials.size(), 3u);
  for (const TrialRecord& trial : outcome->trials) {
    EXPECT_EQ(trial.outcome, TrialOutcome::kOk) << trial.detail;
    ASSERT_TRUE(trial.validation_loss.has_value());
    EXPECT_LT(trial.plan.epochs, 1.0);  // the cap leaves the search less than a full epoch each
  }
  EXPECT_TRUE(outcome->retrained) << outcome->retrain_note;
  EXPECT_EQ(outcome->result_dir, options.run_dir / "final");
  EXPECT_TRUE(std::filesystem::exists(outcome->result_dir / "adapter_model.safetensors"));
  EXPECT_LE(outcome->tokens, options.strategy.max_train_tokens);
  EXPECT_GT(outcome->seconds_in_steps, 0);
  EXPECT_LE(outcome->seconds_in_steps, outcome->seconds);
  // Only the best trial's result is kept, without its checkpoint.
  const TrialRecord* best = BestTrial(outcome->trials);
  for (const TrialRecord& trial : outcome->trials) {
    const std::filesystem::path trial_dir = options.run_dir / ("trial-" + std::to_string(trial.plan.index));
    EXPECT_EQ(std::filesystem::exists(trial_dir), &trial == best);
  }
  EXPECT_FALSE(std::filesystem::exists(options.run_dir / ("trial-" + std::to_string(best->plan.index)) / "checkpoint"));
  // Run again, it finds the search done and does not train the trials again.
  int64_t trial_reports = 0;
  options.on_progress = [&](const SearchProgress& progress) {
    trial_reports += progress.phase == SearchPhase::kTrial ? 1 : 0;
  };
  common::Result<SearchOutcome> again = RunSearch(options, examples_, 0);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  ASSERT_EQ(again->trials.size(), 3u);
  EXPECT_EQ(trial_reports, 0);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(again->trials[i].seconds, outcome->trials[i].seconds);
}

TEST_F(SearchRunTest, AFailingTrialIsRecordedWithItsReasonAndTheSearchGoesOn) {
  SearchRunOptions options = Options("random");
  std::filesystem::create_directories(options.run_dir);
  std::ofstream(options.run_dir / "trial-1") << "a file where the trial's directory should go";
  common::Result<SearchOutcome> outcome = RunSearch(options, examples_, 0);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  ASSERT_EQ(outcome->trials.size(), 3u);
  EXPECT_EQ(outcome->trials[0].outcome, TrialOutcome::kOk);
  EXPECT_EQ(outcome->trials[1].outcome, TrialOutcome::kFailed);
  EXPECT_NE(outcome->trials[1].detail.find("trial-1"), std::string::npos) << outcome->trials[1].detail;
  EXPECT_EQ(outcome->trials[2].outcome, TrialOutcome::kOk);
  EXPECT_NE(BestTrial(outcome->trials), &outcome->trials[1]);
}

TEST_F(SearchRunTest, EveryTrialFailingFailsTheSearchNamingTheLastReason) {
  SearchRunOptions options = Options("random");
  options.strategy.hyperparameters.lora.target_modules = {"no_such_proj"};
  common::Result<SearchOutcome> outcome = RunSearch(options, examples_, 0);
  ASSERT_FALSE(outcome.ok());
  EXPECT_NE(outcome.status().message().find("every trial failed"), std::string::npos) << outcome.status().ToString();
  EXPECT_NE(outcome.status().message().find("no_such_proj"), std::string::npos) << outcome.status().ToString();
}

TEST_F(SearchRunTest, DivergingTrialsAreRecordedAsDivergedWithTheTrainersReason) {
  // A model whose final norm scales every hidden state to near float32's largest value: the logits
  // overflow and the loss is not a number, whatever the trial's configuration.
  const std::filesystem::path blown = dir_.path() / "blown";
  std::filesystem::copy(dir_.path() / "tiny", blown);
  std::string bytes = *common::ReadFileToString(blown / "model.safetensors", 1 << 30);
  {
    common::Result<common::SafetensorsFile> file = common::SafetensorsFile::Open(blown / "model.safetensors");
    ASSERT_TRUE(file.ok()) << file.status().ToString();
    const common::SafetensorsTensor* norm = file->header().Find("model.norm.weight");
    ASSERT_NE(norm, nullptr);
    const float huge = 3e38f;
    for (uint64_t at = file->header().data_offset() + norm->data_begin;
         at < file->header().data_offset() + norm->data_end; at += sizeof(float)) {
      std::memcpy(bytes.data() + at, &huge, sizeof(float));
    }
  }
  ASSERT_TRUE(common::WriteFileDurably(blown / "model.safetensors", bytes).ok());
  SearchRunOptions options = Options("random");
  options.model_dir = blown;
  common::Result<SearchOutcome> outcome = RunSearch(options, examples_, 0);
  ASSERT_FALSE(outcome.ok());
  EXPECT_EQ(outcome.status().code(), common::StatusCode::kFailedPrecondition);
  EXPECT_NE(outcome.status().message().find("every trial failed; the last (2, diverged): training diverged"),
            std::string::npos)
      << outcome.status().ToString();
  nlohmann::json state = *common::ReadJsonFile(options.run_dir / "search.json");
  ASSERT_EQ(state["trials"].size(), 3u);
  for (const nlohmann::json& trial : state["trials"]) {
    EXPECT_EQ(trial["outcome"], "diverged");
    EXPECT_NE(trial["detail"].get<std::string>().find("training diverged"), std::string::npos) << trial.dump();
  }
}

TEST_F(SearchRunTest, ARecordedTrialOfAnUnknownOutcomeIsAnErrorNamingTheFileAndTheValue) {
  SearchRunOptions options = Options("random");
  options.strategy.max_train_tokens = 3 * split_tokens_;
  ASSERT_TRUE(RunSearch(options, examples_, 0).ok());
  const std::filesystem::path path = options.run_dir / "search.json";
  nlohmann::json state = *common::ReadJsonFile(path);
  state["trials"][0]["outcome"] = "exploded";
  ASSERT_TRUE(common::WriteFileDurably(path, state.dump()).ok());
  common::Result<SearchOutcome> again = RunSearch(options, examples_, 0);
  EXPECT_EQ(again.status().code(), common::StatusCode::kDataLoss);
  EXPECT_EQ(again.status().message(), path.string() +
                                          ": trial outcome: expected one of \"ok\", \"diverged\", \"failed\", got "
                                          "\"exploded\"");
}

TEST_F(SearchRunTest, TheSearchAndItsTrainingRunsTellTheTimeByTheInjectedClock) {
  SearchRunOptions options = Options("random");
  // By the system clock the deadline is minutes away; by the search's own clock it has passed.
  options.now_ms = [deadline = options.deadline] { return common::MsOfTimePoint(deadline + std::chrono::hours(1)); };
  common::Result<SearchOutcome> outcome = RunSearch(options, examples_, 0);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_TRUE(outcome->trials.empty());  // no time for a trial
  // The base configuration is trained as the result, and its run stops at once for the deadline.
  nlohmann::json summary = *common::ReadJsonFile(outcome->result_dir / "training_summary.json");
  EXPECT_EQ(summary["stop_reason"], "deadline");
  EXPECT_EQ(summary["steps"], 0);
}

TEST_F(SearchRunTest, AStoppedSearchKeepsItsStateAndResumesTheTrialItWasIn) {
  SearchRunOptions options = Options("halving");
  std::atomic<bool> stop = false;
  options.stop = &stop;
  options.checkpoint_every_steps = 1;
  int64_t reports_in_trial_1 = 0;
  options.on_progress = [&](const SearchProgress& progress) {
    if (progress.phase == SearchPhase::kTrial && progress.trial_index == 1 && ++reports_in_trial_1 == 2) stop = true;
  };
  common::Result<SearchOutcome> stopped = RunSearch(options, examples_, 0);
  ASSERT_EQ(stopped.status().code(), common::StatusCode::kAborted) << stopped.status().ToString();
  nlohmann::json state = *common::ReadJsonFile(options.run_dir / "search.json");
  ASSERT_EQ(state["trials"].size(), 1u);
  EXPECT_EQ(state["current"]["index"], 1);
  EXPECT_TRUE(std::filesystem::exists(options.run_dir / "trial-1" / "checkpoint" / "state.json"));

  stop = false;
  int64_t first_step_of_trial_1 = -1;
  options.on_progress = [&](const SearchProgress& progress) {
    if (progress.phase == SearchPhase::kTrial && progress.trial_index == 1 && first_step_of_trial_1 < 0) {
      first_step_of_trial_1 = progress.step;
    }
  };
  // As a restarted miner has it: the options read from its config again.
  common::Result<SearchOutcome> resumed = RunSearch(options, examples_, 0);
  ASSERT_TRUE(resumed.ok()) << resumed.status().ToString();
  EXPECT_GT(first_step_of_trial_1, 2);    // went on from its checkpoint, not from step 1
  EXPECT_EQ(resumed->trials.size(), 4u);  // halving of 3 at rate 3: three, then the best once more
  EXPECT_EQ(resumed->trials[0].seconds, state["trials"][0]["seconds"].get<double>());  // recorded, not run again
}

TEST_F(SearchRunTest, TheSearchEndsBeforeItsDeadline) {
  SearchRunOptions options = Options("tpe");
  options.strategy.trials = 50;
  options.strategy.hyperparameters.epochs = 50;
  options.deadline = std::chrono::system_clock::now() + std::chrono::seconds(4);
  options.estimated_tokens_per_second = 1e9;  // far too optimistic: the deadline must still hold
  common::Result<SearchOutcome> outcome = RunSearch(options, examples_, 0);
  ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  EXPECT_LE(std::chrono::system_clock::now(), options.deadline);
  EXPECT_TRUE(std::filesystem::exists(outcome->result_dir / "adapter_model.safetensors"));
}

}  // namespace
}  // namespace gradients::miner
