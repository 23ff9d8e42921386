// One task of the market benchmark (bench/README.md, "The market benchmark"): the market's miners,
// each a search strategy of the miner (miner/search_run.h) with the same budget of training tokens, train on the
// task's training split; `gradients eval` judges each result on the hidden test split with the
// flags the validator's evaluation uses (validator/tasks/task_evaluation.cpp), and the validator's
// scoring (validator/rewards/scoring.h) ranks them. Prints one JSON object: the training split's tokens
// per epoch (for the Optuna contender's budget), the base model's test loss, and each miner's test
// loss, rank and points.
//
//   market_task --gradients build/cli/gradients --model BASE_DIR --train train.jsonl
//               --test test.jsonl --format instruct --market bench/market/market.json
//               --budget-epochs E --work DIR [--threads 1]
// The budget, in training tokens, is E passes over the training split (counted as the miner counts
// it), the same for every miner.
//
//   market_task --judge CHECKPOINT_DIR --judge-kind lora|full --gradients ... --model BASE_DIR
//               --test test.jsonl --format instruct [--columns ...] [--threads 1]
// judges one checkpoint as the validator would and prints `gradients eval`'s verdict (run.py's
// Optuna contender is judged so).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/status.h"
#include "miner/search_run.h"
#include "miner/search_strategy.h"
#include "text/dataset.h"
#include "text/tokenizer.h"
#include "validator/rewards/scoring.h"
#include "validator/tasks/child_process.h"
#include "validator/tasks/task_evaluation.h"

namespace gradients::bench {
namespace {

struct Flags {
  std::string gradients, model, train, test, format = "instruct", columns, market, work, judge, judge_kind;
  double budget_epochs = 0;
  int threads = 1;
};

common::Result<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  std::map<std::string, std::string*> strings = {
      {"--gradients", &flags.gradients}, {"--model", &flags.model},
      {"--train", &flags.train},         {"--test", &flags.test},
      {"--format", &flags.format},       {"--columns", &flags.columns},
      {"--market", &flags.market},       {"--work", &flags.work},
      {"--judge", &flags.judge},         {"--judge-kind", &flags.judge_kind}};
  for (int i = 1; i < argc; i += 2) {
    const std::string name = argv[i];
    if (i + 1 >= argc) return common::Status::InvalidArgument(name + ": a value is missing");
    const std::string value = argv[i + 1];
    if (auto found = strings.find(name); found != strings.end()) {
      *found->second = value;
    } else if (name == "--budget-epochs") {
      flags.budget_epochs = std::stod(value);
    } else if (name == "--threads") {
      flags.threads = std::stoi(value);
    } else {
      return common::Status::InvalidArgument("unknown flag " + name);
    }
  }
  const bool judging = !flags.judge.empty();
  const std::vector<std::string> required =
      judging
          ? std::vector<std::string>{"--gradients", "--model", "--test", "--format", "--judge-kind"}
          : std::vector<std::string>{"--gradients", "--model", "--train", "--test", "--format", "--market", "--work"};
  for (const std::string& name : required) {
    if (strings.at(name)->empty()) return common::Status::InvalidArgument(name + " is required");
  }
  if (judging && flags.judge_kind != "lora" && flags.judge_kind != "full") {
    return common::Status::InvalidArgument("--judge-kind must be lora or full, not \"" + flags.judge_kind + "\"");
  }
  if (!judging && !(flags.budget_epochs > 0)) return common::Status::InvalidArgument("--budget-epochs must be positive");
  return flags;
}

// Each miner of market.json as the strategy options a miner's config would give: the shared base
// hyperparameters and search space, the miner's own strategy settings (the caller sets the budget).
common::Result<std::vector<miner::StrategyOptions>> MarketMiners(const std::filesystem::path& market_file) {
  common::Result<nlohmann::json> market = common::ReadJsonFile(market_file);
  if (!market.ok()) return market.status();
  if (!market->contains("miners") || !(*market)["miners"].is_array()) {
    return common::Status::InvalidArgument(market_file.string() + ": \"miners\" must be an array");
  }
  std::vector<miner::StrategyOptions> miners;
  for (const nlohmann::json& miner : (*market)["miners"]) {
    nlohmann::json strategy = miner;
    strategy["hyperparameters"] = market->value("hyperparameters", nlohmann::json::object());
    if (strategy.value("name", "") != "fixed")
      strategy["search_space"] = market->value("search_space", nlohmann::json());
    common::Result<miner::StrategyOptions> options = common::ParseConfig<miner::StrategyOptions>(strategy, "market.miners");
    if (!options.ok()) return options.status().WithContext(market_file.string());
    miners.push_back(*options);
  }
  return miners;
}

// `gradients eval` as the validator runs it (validator/tasks/task_evaluation.h: the same command line, limits
// and environment, the BLAS on `threads`); the submission's verdict, or the base model's without one.
common::Result<nlohmann::json> Evaluate(const Flags& flags, const std::optional<validator::JudgedCheckpoint>& submission) {
  const validator::EvaluationOptions options{.gradients_path = flags.gradients, .threads = flags.threads};
  uint64_t model_bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(flags.model)) {
    if (entry.is_regular_file()) model_bytes += entry.file_size();
  }
  const validator::EvaluationInputs inputs{
      .base_model = flags.model, .test_data = flags.test, .format = flags.format, .columns = flags.columns};
  common::Result<validator::ChildResult> run =
      validator::RunLimitedChild(validator::EvaluationCommand(options, inputs, submission), validator::EvaluationLimits(options, model_bytes));
  if (!run.ok()) return run.status();
  if (run->exit_code != 0) return common::Status::Internal("gradients eval failed: " + run->err_tail);
  nlohmann::json verdict = nlohmann::json::parse(run->out, nullptr, /*allow_exceptions=*/false);
  if (!verdict.is_object()) return common::Status::Internal("gradients eval: not JSON: " + run->out);
  return verdict;
}

validator::JudgedCheckpoint Judged(const std::string& dir, const std::string& mode) {
  return validator::JudgedCheckpoint{.dir = dir,
                          .kind = mode == "full" ? common::CheckpointKind::kFullModel : common::CheckpointKind::kLoraAdapter};
}

// --judge: one checkpoint's verdict.
common::Status Judge(const Flags& flags) {
  common::Result<nlohmann::json> verdict = Evaluate(flags, Judged(flags.judge, flags.judge_kind));
  if (!verdict.ok()) return verdict.status();
  std::printf("%s\n", verdict->dump().c_str());
  return common::Status::Ok();
}

common::Status Run(const Flags& flags) {
  common::Result<std::vector<miner::StrategyOptions>> miners = MarketMiners(flags.market);
  if (!miners.ok()) return miners.status();
  if (miners->empty()) return common::Status::InvalidArgument(flags.market + ": no miners");
  common::Result<text::DatasetFormat> format = text::ParseDatasetFormat(flags.format);
  if (!format.ok()) return format.status();
  text::DatasetOptions dataset;
  dataset.format = *format;
  dataset.max_length = (*miners)[0].hyperparameters.max_length;
  if (!flags.columns.empty()) {
    common::Result<text::ColumnMapping> columns = text::ParseColumnMapping(flags.columns, *format);
    if (!columns.ok()) return columns.status();
    dataset.columns = *columns;
  }
  common::Result<std::unique_ptr<text::Tokenizer>> tokenizer = text::LoadTokenizer(flags.model);
  if (!tokenizer.ok()) return tokenizer.status();
  common::Result<std::vector<text::TokenizedExample>> examples = text::LoadTokenizedDataset(flags.train, **tokenizer, dataset);
  if (!examples.ok()) return examples.status();
  // Counted as the miner counts a split (miner/search_run.cpp): rows cut at max_length.
  int64_t epoch_tokens = 0;
  for (const text::TokenizedExample& example : *examples) {
    epoch_tokens += std::min<int64_t>(static_cast<int64_t>(example.input_ids.size()), dataset.max_length);
  }

  const auto budget_tokens = static_cast<int64_t>(flags.budget_epochs * static_cast<double>(epoch_tokens));
  if (budget_tokens <= 0) return common::Status::InvalidArgument(flags.train + ": no training tokens");
  for (miner::StrategyOptions& strategy : *miners) strategy.max_train_tokens = budget_tokens;
  nlohmann::json report = {{"epoch_tokens", epoch_tokens}, {"budget_tokens", budget_tokens}};
  common::Result<nlohmann::json> base = Evaluate(flags, std::nullopt);
  if (!base.ok()) return base.status().WithContext("the base model");
  report["base_loss"] = (*base)["loss"];

  std::vector<validator::SubmissionResult> submissions;
  nlohmann::json entries = nlohmann::json::array();
  for (const miner::StrategyOptions& strategy : *miners) {
    miner::SearchRunOptions search;
    search.strategy = strategy;
    search.model_dir = flags.model;
    search.run_dir = std::filesystem::path(flags.work) / strategy.name;
    search.device = "cpu";
    search.deadline = std::chrono::system_clock::now() + std::chrono::hours(24);  // the token budget binds
    search.cpu_threads = flags.threads;
    search.log_every_steps = 1000000;
    const auto started = std::chrono::steady_clock::now();
    common::Result<miner::SearchOutcome> outcome = miner::RunSearch(search, *examples, (*tokenizer)->eos_id().value_or(0));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    nlohmann::json entry = {{"miner", strategy.name}, {"seconds", seconds}};
    validator::SubmissionResult submission{.miner = strategy.name,
                                .outcome = validator::EvaluationOutcome::kFailed,
                                .test_loss = 0,
                                .received_at_ms = static_cast<int64_t>(submissions.size())};
    if (!outcome.ok()) {
      entry["error"] = outcome.status().ToString();
    } else {
      entry["tokens"] = outcome->tokens;
      entry["trials"] = outcome->trials.size();
      entry["retrained"] = outcome->retrained;
      if (outcome->best_validation_loss) entry["best_validation_loss"] = *outcome->best_validation_loss;
      common::Result<nlohmann::json> verdict =
          Evaluate(flags, Judged(outcome->result_dir.string(), std::string(common::EnumName(outcome->mode))));
      if (!verdict.ok()) return verdict.status().WithContext(strategy.name);
      entry["verdict"] = *verdict;
      // A status of no known name counts as invalid, as the validator counts it.
      common::Result<validator::EvaluationOutcome> status =
          validator::ParseEvaluationOutcome(verdict->value("status", ""));
      submission.outcome = status.ok() ? *status : validator::EvaluationOutcome::kInvalid;
      if (submission.outcome == validator::EvaluationOutcome::kScored) {
        submission.test_loss = (*verdict)["loss"].get<double>();
        entry["test_loss"] = submission.test_loss;
      }
    }
    submissions.push_back(submission);
    entries.push_back(entry);
    std::fprintf(stderr, "market_task: %s: %s\n", strategy.name.c_str(), entry.dump().c_str());
  }
  // The validator's ranking: first place gets its points, failures cost theirs.
  for (const validator::MinerPoints& points : validator::ScoreTask(submissions, validator::ScoringOptions{})) {
    for (nlohmann::json& entry : entries) {
      if (entry["miner"] != points.miner) continue;
      entry["rank"] = points.rank;
      entry["points"] = points.points;
      if (points.rank == 1) report["winner"] = points.miner;
    }
  }
  report["miners"] = entries;
  std::printf("%s\n", report.dump().c_str());
  return common::Status::Ok();
}

}  // namespace
}  // namespace gradients::bench

int main(int argc, char** argv) {
  gradients::common::Result<gradients::bench::Flags> flags = gradients::bench::ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::fprintf(stderr, "market_task: %s\n", flags.status().ToString().c_str());
    return 2;
  }
  const gradients::common::Status status = flags->judge.empty() ? gradients::bench::Run(*flags) : gradients::bench::Judge(*flags);
  if (!status.ok()) {
    std::fprintf(stderr, "market_task: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
