// One task of the market benchmark (bench/README.md, "The market benchmark"): the market's miners,
// each a search strategy of the miner (miner/search_run.h) with the same budget of training tokens, train on the
// task's training split; `gradients eval` judges each result on the hidden test split with the
// flags the validator's evaluation uses (validator/task_evaluation.cpp), and the validator's
// scoring (validator/scoring.h) ranks them. Prints one JSON object: the training split's tokens
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
#include "trainers/dataset.h"
#include "trainers/tokenizer.h"
#include "validator/child_process.h"
#include "validator/scoring.h"
#include "validator/task_evaluation.h"

namespace gradients {
namespace {

struct Flags {
  std::string gradients, model, train, test, format = "instruct", columns, market, work, judge, judge_kind;
  double budget_epochs = 0;
  int threads = 1;
};

Result<Flags> ParseFlags(int argc, char** argv) {
  Flags flags;
  std::map<std::string, std::string*> strings = {
      {"--gradients", &flags.gradients}, {"--model", &flags.model},
      {"--train", &flags.train},         {"--test", &flags.test},
      {"--format", &flags.format},       {"--columns", &flags.columns},
      {"--market", &flags.market},       {"--work", &flags.work},
      {"--judge", &flags.judge},         {"--judge-kind", &flags.judge_kind}};
  for (int i = 1; i < argc; i += 2) {
    const std::string name = argv[i];
    if (i + 1 >= argc) return Status::InvalidArgument(name + ": a value is missing");
    const std::string value = argv[i + 1];
    if (auto found = strings.find(name); found != strings.end()) {
      *found->second = value;
    } else if (name == "--budget-epochs") {
      flags.budget_epochs = std::stod(value);
    } else if (name == "--threads") {
      flags.threads = std::stoi(value);
    } else {
      return Status::InvalidArgument("unknown flag " + name);
    }
  }
  const bool judging = !flags.judge.empty();
  const std::vector<std::string> required =
      judging
          ? std::vector<std::string>{"--gradients", "--model", "--test", "--format", "--judge-kind"}
          : std::vector<std::string>{"--gradients", "--model", "--train", "--test", "--format", "--market", "--work"};
  for (const std::string& name : required) {
    if (strings.at(name)->empty()) return Status::InvalidArgument(name + " is required");
  }
  if (judging && flags.judge_kind != "lora" && flags.judge_kind != "full") {
    return Status::InvalidArgument("--judge-kind must be lora or full, not \"" + flags.judge_kind + "\"");
  }
  if (!judging && !(flags.budget_epochs > 0)) return Status::InvalidArgument("--budget-epochs must be positive");
  return flags;
}

// Each miner of market.json as the strategy options a miner's config would give: the shared base
// hyperparameters and search space, the miner's own strategy settings (the caller sets the budget).
Result<std::vector<StrategyOptions>> MarketMiners(const std::filesystem::path& market_file) {
  Result<nlohmann::json> market = ReadJsonFile(market_file);
  if (!market.ok()) return market.status();
  if (!market->contains("miners") || !(*market)["miners"].is_array()) {
    return Status::InvalidArgument(market_file.string() + ": \"miners\" must be an array");
  }
  std::vector<StrategyOptions> miners;
  for (const nlohmann::json& miner : (*market)["miners"]) {
    nlohmann::json strategy = miner;
    strategy["hyperparameters"] = market->value("hyperparameters", nlohmann::json::object());
    if (strategy.value("name", "") != "fixed")
      strategy["search_space"] = market->value("search_space", nlohmann::json());
    Result<StrategyOptions> options = ParseConfig<StrategyOptions>(strategy, "market.miners");
    if (!options.ok()) return options.status().WithContext(market_file.string());
    miners.push_back(*options);
  }
  return miners;
}

// `gradients eval` as the validator runs it (validator/task_evaluation.h: the same command line, limits
// and environment, the BLAS on `threads`); the submission's verdict, or the base model's without one.
Result<nlohmann::json> Evaluate(const Flags& flags, const std::optional<JudgedCheckpoint>& submission) {
  const EvaluationOptions options{.gradients_path = flags.gradients, .threads = flags.threads};
  uint64_t model_bytes = 0;
  for (const auto& entry : std::filesystem::directory_iterator(flags.model)) {
    if (entry.is_regular_file()) model_bytes += entry.file_size();
  }
  const EvaluationInputs inputs{
      .base_model = flags.model, .test_data = flags.test, .format = flags.format, .columns = flags.columns};
  Result<ChildResult> run =
      RunLimitedChild(EvaluationCommand(options, inputs, submission), EvaluationLimits(options, model_bytes));
  if (!run.ok()) return run.status();
  if (run->exit_code != 0) return Status::Internal("gradients eval failed: " + run->err_tail);
  nlohmann::json verdict = nlohmann::json::parse(run->out, nullptr, /*allow_exceptions=*/false);
  if (!verdict.is_object()) return Status::Internal("gradients eval: not JSON: " + run->out);
  return verdict;
}

JudgedCheckpoint Judged(const std::string& dir, const std::string& mode) {
  return JudgedCheckpoint{.dir = dir,
                          .kind = mode == "full" ? CheckpointKind::kFullModel : CheckpointKind::kLoraAdapter};
}

// --judge: one checkpoint's verdict.
Status Judge(const Flags& flags) {
  Result<nlohmann::json> verdict = Evaluate(flags, Judged(flags.judge, flags.judge_kind));
  if (!verdict.ok()) return verdict.status();
  std::printf("%s\n", verdict->dump().c_str());
  return Status::Ok();
}

Status Run(const Flags& flags) {
  Result<std::vector<StrategyOptions>> miners = MarketMiners(flags.market);
  if (!miners.ok()) return miners.status();
  if (miners->empty()) return Status::InvalidArgument(flags.market + ": no miners");
  Result<DatasetFormat> format = ParseDatasetFormat(flags.format);
  if (!format.ok()) return format.status();
  DatasetOptions dataset;
  dataset.format = *format;
  dataset.max_length = (*miners)[0].hyperparameters.max_length;
  if (!flags.columns.empty()) {
    Result<ColumnMapping> columns = ParseColumnMapping(flags.columns, *format);
    if (!columns.ok()) return columns.status();
    dataset.columns = *columns;
  }
  Result<std::unique_ptr<Tokenizer>> tokenizer = LoadTokenizer(flags.model);
  if (!tokenizer.ok()) return tokenizer.status();
  Result<std::vector<TokenizedExample>> examples = LoadTokenizedDataset(flags.train, **tokenizer, dataset);
  if (!examples.ok()) return examples.status();
  // Counted as the miner counts a split (miner/search_run.cpp): rows cut at max_length.
  int64_t epoch_tokens = 0;
  for (const TokenizedExample& example : *examples) {
    epoch_tokens += std::min<int64_t>(static_cast<int64_t>(example.input_ids.size()), dataset.max_length);
  }

  const auto budget_tokens = static_cast<int64_t>(flags.budget_epochs * static_cast<double>(epoch_tokens));
  if (budget_tokens <= 0) return Status::InvalidArgument(flags.train + ": no training tokens");
  for (StrategyOptions& strategy : *miners) strategy.max_train_tokens = budget_tokens;
  nlohmann::json report = {{"epoch_tokens", epoch_tokens}, {"budget_tokens", budget_tokens}};
  Result<nlohmann::json> base = Evaluate(flags, std::nullopt);
  if (!base.ok()) return base.status().WithContext("the base model");
  report["base_loss"] = (*base)["loss"];

  std::vector<SubmissionResult> submissions;
  nlohmann::json entries = nlohmann::json::array();
  for (const StrategyOptions& strategy : *miners) {
    SearchRunOptions search;
    search.strategy = strategy;
    search.model_dir = flags.model;
    search.run_dir = std::filesystem::path(flags.work) / strategy.name;
    search.device = "cpu";
    search.deadline = std::chrono::system_clock::now() + std::chrono::hours(24);  // the token budget binds
    search.cpu_threads = flags.threads;
    search.log_every_steps = 1000000;
    const auto started = std::chrono::steady_clock::now();
    Result<SearchOutcome> outcome = RunSearch(search, *examples, (*tokenizer)->eos_id().value_or(0));
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    nlohmann::json entry = {{"miner", strategy.name}, {"seconds", seconds}};
    SubmissionResult submission{.miner = strategy.name,
                                .outcome = SubmissionOutcome::kFailed,
                                .test_loss = 0,
                                .received_at_ms = static_cast<int64_t>(submissions.size())};
    if (!outcome.ok()) {
      entry["error"] = outcome.status().ToString();
    } else {
      entry["tokens"] = outcome->tokens;
      entry["trials"] = outcome->trials.size();
      entry["retrained"] = outcome->retrained;
      if (outcome->best_validation_loss) entry["best_validation_loss"] = *outcome->best_validation_loss;
      Result<nlohmann::json> verdict = Evaluate(flags, Judged(outcome->result_dir.string(), outcome->mode));
      if (!verdict.ok()) return verdict.status().WithContext(strategy.name);
      entry["verdict"] = *verdict;
      submission.outcome = ParseSubmissionOutcome(verdict->value("status", ""));
      if (submission.outcome == SubmissionOutcome::kScored) {
        submission.test_loss = (*verdict)["loss"].get<double>();
        entry["test_loss"] = submission.test_loss;
      }
    }
    submissions.push_back(submission);
    entries.push_back(entry);
    std::fprintf(stderr, "market_task: %s: %s\n", strategy.name.c_str(), entry.dump().c_str());
  }
  // The validator's ranking: first place gets its points, failures cost theirs.
  for (const MinerPoints& points : ScoreTask(submissions, ScoringOptions{})) {
    for (nlohmann::json& entry : entries) {
      if (entry["miner"] != points.miner) continue;
      entry["rank"] = points.rank;
      entry["points"] = points.points;
      if (points.rank == 1) report["winner"] = points.miner;
    }
  }
  report["miners"] = entries;
  std::printf("%s\n", report.dump().c_str());
  return Status::Ok();
}

}  // namespace
}  // namespace gradients

int main(int argc, char** argv) {
  gradients::Result<gradients::Flags> flags = gradients::ParseFlags(argc, argv);
  if (!flags.ok()) {
    std::fprintf(stderr, "market_task: %s\n", flags.status().ToString().c_str());
    return 2;
  }
  const gradients::Status status = flags->judge.empty() ? gradients::Run(*flags) : gradients::Judge(*flags);
  if (!status.ok()) {
    std::fprintf(stderr, "market_task: %s\n", status.ToString().c_str());
    return 1;
  }
  return 0;
}
