#include "miner/search_strategy.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "miner/parzen_estimator.h"

namespace gradients::miner {
namespace {

SearchSpace ParseSpace(const nlohmann::json& json) {
  common::Result<SearchSpace> space = common::ParseConfig<SearchSpace>(json, "search_space");
  EXPECT_TRUE(space.ok()) << space.status().ToString();
  return space.ok() ? *space : SearchSpace{};
}

StrategyOptions Options(const std::string& name, int64_t trials) {
  StrategyOptions options;
  options.name = name;
  options.trials = trials;
  options.seed = 7;
  options.search_space = ParseSpace({{"learning_rate", {{"min", 1e-5}, {"max", 1e-2}, {"log", true}}},
                                     {"lora_r", {{"choices", {4, 8, 16}}}},
                                     {"lr_scheduler", {{"choices", {"cosine", "linear"}}}}});
  return options;
}

// A made-up objective with its optimum at a learning rate of 3e-4 and rank 16.
double Objective(const nlohmann::json& assignment) {
  const double lr = assignment.at("learning_rate").get<double>();
  const double distance = std::log10(lr) - std::log10(3e-4);
  return 1.0 + distance * distance + (assignment.at("lora_r").get<int64_t>() == 16 ? 0.0 : 0.3);
}

// Runs `strategy` to its end, scoring each trial with Objective; `fail` makes the given indexes fail.
std::vector<TrialRecord> Search(const SearchStrategy& strategy, double epochs, const std::set<int64_t>& fail = {}) {
  std::vector<TrialRecord> done;
  double left = epochs;
  while (std::optional<TrialPlan> plan = strategy.Next(done, left)) {
    EXPECT_EQ(plan->index, static_cast<int64_t>(done.size()));
    TrialRecord record;
    record.plan = *plan;
    if (fail.contains(plan->index)) {
      record.outcome = TrialOutcome::kDiverged;
    } else {
      record.outcome = TrialOutcome::kOk;
      record.validation_loss = plan->assignment.empty() ? 1.0 : Objective(plan->assignment);
    }
    left -= plan->epochs;
    done.push_back(record);
    if (done.size() > 1000) break;
  }
  return done;
}

TEST(SearchSpace, ErrorsNameTheHyperparameterAndTheProblem) {
  auto error = [](const nlohmann::json& json) { return common::ParseConfig<SearchSpace>(json, "space").status().message(); };
  EXPECT_NE(error({{"learning_rate", {{"min", 0}, {"max", 1e-3}, {"log", true}}}}).find("space.learning_rate.log"),
            std::string::npos);
  EXPECT_NE(error({{"learning_rate", {{"min", 1e-3}, {"max", 1e-5}}}}).find("space.learning_rate.max"),
            std::string::npos);
  EXPECT_NE(error({{"lora_r", {{"choices", {4, 8.5}}}}}).find("space.lora_r: takes whole numbers only"),
            std::string::npos);
  EXPECT_NE(error({{"learning_rat", {{"min", 1e-5}, {"max", 1e-3}}}}).find("learning_rat"), std::string::npos);
  EXPECT_NE(error({{"lr_scheduler", {{"choices", {"cosine", 3}}}}}).find("space.lr_scheduler.choices[1]"),
            std::string::npos);
  EXPECT_NE(error({{"epochs", nlohmann::json::object()}}).find("space.epochs.choices"), std::string::npos);
}

TEST(SearchSpace, AnAssignmentLandsInTheHyperparametersAndIsValidatedAsAConfigurationIs) {
  train::Hyperparameters base;
  common::Result<train::Hyperparameters> applied =
      ApplyAssignment(base, {{"lora_r", 32}, {"lora_dropout", 0.1}, {"learning_rate", 1e-4}, {"mode", "full"}});
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  EXPECT_EQ(applied->lora.r, 32);
  EXPECT_DOUBLE_EQ(applied->lora.dropout, 0.1);
  EXPECT_DOUBLE_EQ(applied->learning_rate, 1e-4);
  EXPECT_EQ(applied->mode, train::TrainingMode::kFull);
  EXPECT_EQ(applied->micro_batch_size, base.micro_batch_size);
  EXPECT_EQ(ApplyAssignment(base, {{"lora_dropout", 1.0}}).status().message(), "trial.lora.dropout: must be in [0, 1)");
  EXPECT_FALSE(ApplyAssignment(base, {{"seed", 3}}).ok());

  // A space whose corner the trainer refuses is refused when the strategy is made.
  StrategyOptions options = Options("random", 4);
  options.search_space = ParseSpace({{"lora_dropout", {{"min", 0.0}, {"max", 1.0}}}});
  EXPECT_NE(MakeSearchStrategy(options).status().message().find("search_space.lora_dropout"), std::string::npos);
}

TEST(SearchSpace, DrawsAreDeterministicInRangeAndUniformOnTheLogScale) {
  const SearchSpace space = Options("random", 1).search_space;
  SearchRandom a(11), b(11);
  int below_geometric_mean = 0;
  for (int i = 0; i < 2000; ++i) {
    const nlohmann::json x = SampleAssignment(space, a);
    EXPECT_EQ(x, SampleAssignment(space, b));
    const double lr = x.at("learning_rate").get<double>();
    ASSERT_GE(lr, 1e-5);
    ASSERT_LE(lr, 1e-2);
    below_geometric_mean += lr < std::sqrt(1e-5 * 1e-2) ? 1 : 0;
    EXPECT_TRUE(std::set<int64_t>({4, 8, 16}).contains(x.at("lora_r").get<int64_t>()));
  }
  EXPECT_NEAR(below_geometric_mean, 1000, 100);
}

TEST(FixedStrategy, TrainsTheBaseConfigurationOnceInFull) {
  StrategyOptions options;
  options.hyperparameters.epochs = 2;
  std::unique_ptr<SearchStrategy> fixed = *MakeSearchStrategy(options);
  std::vector<TrialRecord> done = Search(*fixed, 0.5);
  ASSERT_EQ(done.size(), 1u);
  EXPECT_EQ(done[0].plan.assignment, nlohmann::json::object());
  EXPECT_DOUBLE_EQ(done[0].plan.epochs, 2);
  EXPECT_TRUE(done[0].plan.whole_split);  // nothing to compare it with: nothing held back
  EXPECT_FALSE(fixed->RetrainsBest());
  options.retrain_best = false;
  EXPECT_FALSE((*MakeSearchStrategy(options))->Next({}, 1.0)->whole_split);
  EXPECT_FALSE((*MakeSearchStrategy(Options("random", 2)))->Next({}, 1.0)->whole_split);
}

TEST(RandomStrategy, SharesTheBudgetEquallyAndReplaysTheSameDraws) {
  std::unique_ptr<SearchStrategy> random = *MakeSearchStrategy(Options("random", 4));
  std::vector<TrialRecord> done = Search(*random, 2.0);
  ASSERT_EQ(done.size(), 4u);
  for (const TrialRecord& record : done) EXPECT_DOUBLE_EQ(record.plan.epochs, 0.5);
  // The same history gives the same next trial: what a restarted miner relies on.
  std::vector<TrialRecord> first_two(done.begin(), done.begin() + 2);
  EXPECT_EQ(random->Next(first_two, 1.0)->assignment, done[2].plan.assignment);
  EXPECT_NE(done[0].plan.assignment, done[1].plan.assignment);
  // A budget too small for a meaningful trial ends the search.
  EXPECT_FALSE(random->Next({}, 4 * kMinTrialEpochs / 2).has_value());
  // No trial is given more than its configuration's own epochs.
  EXPECT_DOUBLE_EQ(random->Next({}, 100.0)->epochs, 1.0);
}

TEST(HalvingStrategy, PromotesTheBestThirdWithThreeTimesTheBudgetUntilOneIsLeft) {
  std::unique_ptr<SearchStrategy> halving = *MakeSearchStrategy(Options("halving", 9));
  EXPECT_EQ(halving->PlannedTrials(), 13);
  std::vector<TrialRecord> done = Search(*halving, 0.9, /*fail=*/{4});
  ASSERT_EQ(done.size(), 13u);
  double total = 0;
  for (const TrialRecord& record : done) total += record.plan.epochs;
  EXPECT_LE(total, 0.9 + 1e-9);
  EXPECT_EQ(done[8].plan.rung, 0);
  EXPECT_EQ(done[9].plan.rung, 1);
  EXPECT_EQ(done[12].plan.rung, 2);
  EXPECT_NEAR(done[9].plan.epochs, 3 * done[0].plan.epochs, 1e-9);
  EXPECT_NEAR(done[12].plan.epochs, 9 * done[0].plan.epochs, 1e-9);
  // Rung 1 trains rung 0's three best (the failed one never), best first; rung 2 the best of those.
  std::vector<const TrialRecord*> rung0;
  for (int i = 0; i < 9; ++i) {
    if (i != 4) rung0.push_back(&done[i]);
  }
  std::sort(rung0.begin(), rung0.end(),
            [](const TrialRecord* a, const TrialRecord* b) { return *a->validation_loss < *b->validation_loss; });
  for (int i = 0; i < 3; ++i) EXPECT_EQ(done[9 + i].plan.assignment, rung0[i]->plan.assignment);
  EXPECT_EQ(done[12].plan.assignment, done[9].plan.assignment);  // the same objective ranks them alike
}

TEST(TpeStrategy, ConcentratesItsTrialsWhereTheGoodResultsWere) {
  StrategyOptions options = Options("tpe", 40);
  options.tpe_startup_trials = 10;
  std::unique_ptr<SearchStrategy> tpe = *MakeSearchStrategy(options);
  std::vector<TrialRecord> guided = Search(*tpe, 40.0);
  ASSERT_EQ(guided.size(), 40u);
  std::unique_ptr<SearchStrategy> random = *MakeSearchStrategy(Options("random", 40));
  std::vector<TrialRecord> unguided = Search(*random, 40.0);
  double guided_late = 0, unguided_late = 0;
  for (int i = 20; i < 40; ++i) {
    guided_late += *guided[i].validation_loss / 20;
    unguided_late += *unguided[i].validation_loss / 20;
  }
  EXPECT_LT(guided_late, unguided_late - 0.2) << guided_late << " vs " << unguided_late;
  EXPECT_LT(BestTrial(guided)->rank_loss(), 1.1);
}

TEST(TpeStrategy, ItsEstimatorPrefersTheObservedRegion) {
  const SearchSpace space = Options("tpe", 1).search_space;
  std::vector<nlohmann::json> near_optimum;
  for (double lr : {2e-4, 3e-4, 4e-4})
    near_optimum.push_back({{"learning_rate", lr}, {"lora_r", 16}, {"lr_scheduler", "cosine"}});
  ParzenEstimator estimator(space, near_optimum);
  const nlohmann::json near = {{"learning_rate", 3e-4}, {"lora_r", 16}, {"lr_scheduler", "cosine"}};
  const nlohmann::json far = {{"learning_rate", 1e-2}, {"lora_r", 4}, {"lr_scheduler", "linear"}};
  EXPECT_GT(estimator.LogDensity(near), estimator.LogDensity(far) + 1.0);
}

TEST(StrategyOptions, SearchingStrategiesNeedASpaceAndAValidationShare) {
  nlohmann::json json = {{"name", "random"}};
  EXPECT_NE(common::ParseConfig<StrategyOptions>(json, "strategy").status().message().find("strategy.search_space"),
            std::string::npos);
  json = {{"name", "tpe"},
          {"search_space", {{"learning_rate", {{"min", 1e-5}, {"max", 1e-3}}}}},
          {"hyperparameters", {{"validation_fraction", 0}}}};
  EXPECT_NE(common::ParseConfig<StrategyOptions>(json, "strategy").status().message().find("validation_fraction > 0"),
            std::string::npos);
  json = {{"name", "annealing"}};
  EXPECT_NE(common::ParseConfig<StrategyOptions>(json, "strategy").status().message().find("strategy.name"), std::string::npos);
}

}  // namespace
}  // namespace gradients::miner
