// strategy_overhead: the share of a search's wall time spent outside training steps (issue 6's goal:
// under 5%) — loading the model for each trial, evaluating trials on the validation share,
// checkpoints, recording the search, choosing the next trial — for each strategy, on one machine in
// one run. The model is a randomly initialised preset and the rows random tokens: the losses mean
// nothing, the time split is what is measured. Prints one JSON line per strategy.
//
//   strategy_overhead --preset small --rows 400 --seq 128 --seconds 60 --threads 1
//
// The deadline is --seconds from each strategy's start; the throughput estimate the search starts
// from is the trainers' calibration probe, as the miner's (miner/calibration.h).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>

#include "common/durable_file.h"
#include "miner/search_run.h"
#include "trainers/compute_device.h"
#include "trainers/init_model.h"
#include "trainers/training_speed.h"

namespace {

using gradients::common::Result;

std::map<std::string, std::string> ParseFlags(int argc, char** argv) {
  std::map<std::string, std::string> flags = {{"preset", "small"},
                                              {"rows", "400"},
                                              {"seq", "128"},
                                              {"seconds", "60"},
                                              {"threads", "1"},
                                              {"trials", "6"},
                                              {"dir", "/tmp/gradients-strategy-overhead"}};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string name = argv[i];
    if (!name.starts_with("--") || !flags.contains(name.substr(2))) {
      std::fprintf(stderr, "strategy_overhead: unknown flag %s\n", argv[i]);
      std::exit(2);
    }
    flags[name.substr(2)] = argv[i + 1];
  }
  return flags;
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags = ParseFlags(argc, argv);
  const std::filesystem::path dir = flags["dir"];
  const int64_t rows = std::stoll(flags["rows"]), seq = std::stoll(flags["seq"]);
  const double seconds = std::stod(flags["seconds"]);
  gradients::train::ConfigureCpuThreads(std::stoi(flags["threads"]));
  (void)gradients::common::RemoveTree(dir);

  gradients::train::InitModelOptions init;
  init.preset = flags["preset"];
  if (gradients::common::Status status = gradients::train::InitModel(dir / "model", init); !status.ok()) {
    std::fprintf(stderr, "strategy_overhead: %s\n", status.ToString().c_str());
    return 1;
  }
  Result<gradients::train::ModelPreset> preset = gradients::train::FindModelPreset(init.preset);
  const int64_t vocab = preset->config.vocab_size;
  std::mt19937_64 random(1);
  std::vector<gradients::text::TokenizedExample> examples(static_cast<size_t>(rows));
  for (gradients::text::TokenizedExample& example : examples) {
    for (int64_t t = 0; t < seq; ++t) example.input_ids.push_back(static_cast<int32_t>(random() % vocab));
    example.labels = example.input_ids;
  }
  Result<gradients::train::TrainingSpeed> speed = gradients::train::MeasureTrainingSpeed({}, "cpu");
  if (!speed.ok()) {
    std::fprintf(stderr, "strategy_overhead: %s\n", speed.status().ToString().c_str());
    return 1;
  }
  // As the miner estimates a task's speed: the probe's compute rate over the model's 6 x parameters.
  const int64_t parameters = preset->config.ParameterCount();
  const double estimated_tokens_per_second = speed->flops_per_second / (6.0 * static_cast<double>(parameters));

  for (const char* name : {"fixed", "random", "halving", "tpe"}) {
    gradients::miner::SearchRunOptions options;
    options.strategy.name = name;
    options.strategy.trials = std::stoll(flags["trials"]);
    options.strategy.hyperparameters.max_length = seq;
    options.strategy.hyperparameters.micro_batch_size = 4;
    options.strategy.hyperparameters.gradient_accumulation_steps = 2;
    options.strategy.hyperparameters.epochs = 2;
    Result<gradients::miner::SearchSpace> space = gradients::common::ParseConfig<gradients::miner::SearchSpace>(
        {{"learning_rate", {{"min", 1e-5}, {"max", 1e-3}, {"log", true}}},
         {"lora_r", {{"choices", {8, 16, 32}}}},
         {"lr_scheduler", {{"choices", {"cosine", "linear"}}}}},
        "search_space");
    options.strategy.search_space = *space;
    options.model_dir = dir / "model";
    options.run_dir = dir / name;
    options.checkpoint_every_steps = 10;  // the miner's default
    options.log_every_steps = 10;
    options.cpu_threads = std::stoi(flags["threads"]);
    options.estimated_tokens_per_second = estimated_tokens_per_second;
    options.deadline =
        std::chrono::system_clock::now() +
        std::chrono::duration_cast<std::chrono::system_clock::duration>(std::chrono::duration<double>(seconds));
    const auto start = std::chrono::steady_clock::now();
    Result<gradients::miner::SearchOutcome> outcome = gradients::miner::RunSearch(options, examples, 0);
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (!outcome.ok()) {
      std::fprintf(stderr, "strategy_overhead: %s: %s\n", name, outcome.status().ToString().c_str());
      return 1;
    }
    const nlohmann::json line = {{"strategy", name},
                                 {"preset", init.preset},
                                 {"parameters", parameters},
                                 {"rows", rows},
                                 {"seq", seq},
                                 {"budget_seconds", seconds},
                                 {"wall_seconds", wall},
                                 {"seconds_in_steps", outcome->seconds_in_steps},
                                 {"overhead_share", 1.0 - outcome->seconds_in_steps / wall},
                                 {"trials", outcome->trials.size()},
                                 {"retrained", outcome->retrained},
                                 {"tokens", outcome->tokens},
                                 {"best_validation_loss", outcome->best_validation_loss.value_or(-1)}};
    std::printf("%s\n", line.dump().c_str());
    std::fflush(stdout);
  }
  return 0;
}
