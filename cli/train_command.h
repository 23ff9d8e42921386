// `gradients train`: fine-tunes a model on a dataset file (trainers/trainer.h) and writes a PEFT
// adapter or a full model. Progress goes to stderr (a progress bar on a terminal, a line per
// report otherwise), JSON lines to --metrics, and a JSON summary to stdout.
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace gradients::cli {

struct TrainArgs {
  std::filesystem::path model;
  std::filesystem::path data;
  std::string format = "text";
  std::string field;    // text format: the column holding the text
  std::string columns;  // "instruction=q,output=a"
  std::filesystem::path out;
  std::filesystem::path config;  // hyperparameters JSON; empty: the defaults
  std::string mode;              // overrides the config's mode when set
  bool resume = false;
  std::filesystem::path metrics;  // JSON lines; empty: none
  std::string device = "auto";
  double time_limit_seconds = 0;  // 0: none
  int64_t log_every = 10;
  int64_t checkpoint_every = 0;
  bool activation_checkpointing = false;
  int cpu_threads = 0;  // 0: chosen by the trainer (trainers/trainer.h)
};

// `progress_is_terminal` draws a progress bar (rewritten in place) instead of one line per report.
int RunTrain(const TrainArgs& args, std::ostream& out, std::ostream& err, bool progress_is_terminal);

// Declares `gradients train` on `app`; it runs from its CLI11 callback (a progress bar when stderr
// is a terminal) and ends with its exit code.
void AddTrainCommand(CLI::App& app);

}  // namespace gradients::cli
