#include "cli/train_command.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/command_failure.h"
#include "cli/dataset_flags.h"
#include "common/config.h"
#include "text/dataset.h"
#include "text/tokenizer.h"
#include "trainers/trainer.h"

namespace gradients::cli {
namespace {

std::string Duration(double seconds) {
  const auto total = static_cast<int64_t>(std::llround(std::max(0.0, seconds)));
  if (total >= 3600) return fmt::format("{}h{:02}m", total / 3600, total % 3600 / 60);
  if (total >= 60) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}s", total);
}

nlohmann::json ProgressJson(const train::TrainProgress& progress) {
  nlohmann::json json = {{"event", common::EnumName(progress.event)},
                         {"step", progress.step},
                         {"total_steps", progress.total_steps},
                         {"epoch", progress.epoch},
                         {"loss", progress.loss},
                         {"learning_rate", progress.learning_rate},
                         {"grad_norm", progress.grad_norm},
                         {"tokens", progress.tokens},
                         {"tokens_per_second", progress.tokens_per_second},
                         {"elapsed_seconds", progress.elapsed_seconds},
                         {"eta_seconds", progress.eta_seconds}};
  if (progress.validation_loss) json["validation_loss"] = *progress.validation_loss;
  return json;
}

std::string ProgressLine(const train::TrainProgress& progress, bool bar) {
  std::string line;
  if (bar) {
    constexpr int kWidth = 24;
    const double done = progress.total_steps > 0 ? static_cast<double>(progress.step) /
                                                       static_cast<double>(progress.total_steps)
                                                 : 0;
    const int filled = std::clamp(static_cast<int>(done * kWidth), 0, kWidth);
    line = "[" + std::string(static_cast<size_t>(filled), '#') +
           std::string(static_cast<size_t>(kWidth - filled), '.') + "] ";
  }
  line += fmt::format("step {}/{}", progress.step, progress.total_steps);
  if (progress.validation_loss) return line + fmt::format("  validation loss {:.4f}", *progress.validation_loss);
  line += fmt::format("  loss {:.4f}  lr {:.2e}  {:.0f} tok/s  ETA {}", progress.loss, progress.learning_rate,
                      progress.tokens_per_second, Duration(progress.eta_seconds));
  return line;
}

// Ctrl-C (or SIGTERM) stops the run cleanly: it checkpoints and writes its result. A second
// signal gets the default action.
std::atomic<bool> stop_requested{false};

extern "C" void RequestStop(int signal_number) {
  stop_requested = true;
  std::signal(signal_number, SIG_DFL);
}

// The output directory must be new (or empty) unless the run continues there.
common::Status CheckOutputDirectory(const std::filesystem::path& out, bool resume) {
  std::error_code error;
  const bool exists = std::filesystem::exists(out, error);
  if (exists && !std::filesystem::is_directory(out, error)) {
    return common::Status::InvalidArgument("--out " + out.string() + " is not a directory");
  }
  if (!resume && exists && !std::filesystem::is_empty(out, error)) {
    return common::Status::AlreadyExists("--out " + out.string() +
                                 " exists and is not empty; pass --resume to continue its run, or choose another "
                                 "directory");
  }
  if (resume && !std::filesystem::exists(out / "checkpoint" / "state.json") &&
      !std::filesystem::exists(out / "checkpoint.old" / "state.json")) {
    return common::Status::NotFound("--resume: no checkpoint in " + (out / "checkpoint").string());
  }
  std::filesystem::create_directories(out, error);
  if (error) return common::Status::IoError("creating " + out.string() + ": " + error.message());
  return common::Status::Ok();
}

}  // namespace

int RunTrain(const TrainArgs& args, std::ostream& out, std::ostream& err, bool progress_is_terminal) {
  // The time limit counts from the start: reading and tokenizing the data is part of it.
  const auto started = std::chrono::system_clock::now();
  // Everything cheap is checked before the tokenizer, the data and the model are read.
  train::Hyperparameters hyperparameters;
  if (!args.config.empty()) {
    common::Result<train::Hyperparameters> loaded = common::LoadConfigFile<train::Hyperparameters>(args.config, "");
    if (!loaded.ok()) return Fail(err, "train", loaded.status());
    hyperparameters = *loaded;
  }
  if (!args.mode.empty()) {
    const std::optional<train::TrainingMode> mode = common::EnumFromName<train::TrainingMode>(args.mode);
    if (!mode) {
      return Fail(err, "train",
                  common::Status::InvalidArgument("--mode must be lora or full, got \"" + args.mode.substr(0, 20) + "\""));
    }
    hyperparameters.mode = *mode;
  }
  if (args.time_limit_seconds < 0) {
    return Fail(err, "train", common::Status::InvalidArgument("--time-limit must not be negative"));
  }
  common::Result<text::DatasetOptions> dataset_options =
      DatasetOptionsFromFlags(args.format, args.columns, args.field, hyperparameters.max_length);
  if (!dataset_options.ok()) return Fail(err, "train", dataset_options.status());
  std::ofstream metrics;
  if (common::Status status = CheckOutputDirectory(args.out, args.resume); !status.ok()) return Fail(err, "train", status);
  if (!args.metrics.empty()) {
    metrics.open(args.metrics, std::ios::app);
    if (!metrics) return Fail(err, "train", common::Status::IoError("cannot open --metrics " + args.metrics.string()));
  }

  common::Result<std::unique_ptr<text::Tokenizer>> tokenizer = text::LoadTokenizer(args.model);
  if (!tokenizer.ok()) return Fail(err, "train", tokenizer.status());
  common::Result<std::vector<text::TokenizedExample>> examples = text::LoadTokenizedDataset(args.data, **tokenizer, *dataset_options);
  if (!examples.ok()) return Fail(err, "train", examples.status());

  train::TrainOptions options;
  options.hyperparameters = hyperparameters;
  options.model_dir = args.model;
  options.out_dir = args.out;
  options.device = args.device;
  options.resume = args.resume;
  options.log_every_steps = args.log_every;
  options.checkpoint_every_steps = args.checkpoint_every;
  options.activation_checkpointing = args.activation_checkpointing;
  options.cpu_threads = args.cpu_threads;
  options.cancel = &stop_requested;
  std::signal(SIGINT, RequestStop);
  std::signal(SIGTERM, RequestStop);
  if (args.time_limit_seconds > 0) {
    options.deadline = started +
                       std::chrono::duration_cast<std::chrono::system_clock::duration>(
                           std::chrono::duration<double>(args.time_limit_seconds));
  }
  bool bar_drawn = false;
  options.on_progress = [&](const train::TrainProgress& progress) {
    if (metrics.is_open()) metrics << ProgressJson(progress).dump() << "\n" << std::flush;
    if (progress_is_terminal) {
      err << "\r" << ProgressLine(progress, true) << "\033[K" << std::flush;
      bar_drawn = true;
    } else {
      err << ProgressLine(progress, false) << "\n";
    }
  };
  // Padding is never a label, so any id serves; EOS is what Hugging Face trainers use.
  const int32_t pad_id = (*tokenizer)->eos_id().value_or(0);
  common::Result<train::TrainResult> result = train::Train(options, std::move(*examples), pad_id);
  if (bar_drawn) err << "\n";
  if (!result.ok()) return Fail(err, "train", result.status());
  nlohmann::json summary = {{"out", args.out.string()},
                            {"mode", common::EnumName(hyperparameters.mode)},
                            {"steps", result->steps},
                            {"total_steps", result->total_steps},
                            {"tokens", result->tokens},
                            {"stop_reason", common::EnumName(result->stop_reason)},
                            {"train_loss", result->train_loss},
                            {"best_validation_loss", nullptr},
                            {"best_step", result->best_step}};
  if (result->best_validation_loss) summary["best_validation_loss"] = *result->best_validation_loss;
  out << summary.dump() << "\n";
  return 0;
}

void AddTrainCommand(CLI::App& app) {
  auto args = std::make_shared<TrainArgs>();
  CLI::App* train = app.add_subcommand(
      "train", "Fine-tune a model (LoRA or full) on a dataset; writes a PEFT adapter or a full model");
  train->add_option("--model", args->model, "Base model directory (config.json, safetensors, tokenizer)")
      ->required();
  train->add_option("--data", args->data, "Dataset file (.jsonl or .csv)")->required();
  train->add_option("--format", args->format, "text, instruct or chat")->capture_default_str();
  train->add_option("--field", args->field, "Text format: the column holding the text (default: text)");
  train->add_option("--columns", args->columns, "Role to column mapping, e.g. instruction=q,output=a");
  train->add_option("--out", args->out, "Output directory (the result, training_summary.json, checkpoint/)")
      ->required();
  train->add_option("--config", args->config, "Hyperparameters JSON (configs/hyperparameters.example.json)");
  train->add_option("--mode", args->mode, "lora or full (overrides the config's mode)");
  train->add_flag("--resume", args->resume, "Continue the run checkpointed in --out");
  train->add_option("--metrics", args->metrics, "Append progress as JSON lines to this file");
  train->add_option("--device", args->device, "auto (a GPU when present), cpu, cuda or cuda:N")
      ->capture_default_str();
  train->add_option("--time-limit", args->time_limit_seconds,
                    "Seconds the run may take; it stops in time to write its result (0: no limit)");
  train->add_option("--log-every", args->log_every, "Optimizer steps between progress reports")
      ->capture_default_str();
  train
      ->add_option("--checkpoint-every", args->checkpoint_every,
                   "Optimizer steps between checkpoints (0: at evaluations and at the end)")
      ->capture_default_str();
  train->add_flag("--activation-checkpointing", args->activation_checkpointing,
                  "Recompute activations in the backward pass (less memory for long sequences)");
  train
      ->add_option("--cpu-threads", args->cpu_threads,
                   "libtorch's threads on the CPU (0: one with an external BLAS such as OpenBLAS, which "
                   "threads itself)")
      ->capture_default_str();
  train->callback([args] { ExitWith(RunTrain(*args, std::cout, std::cerr, isatty(STDERR_FILENO) == 1)); });
}

}  // namespace gradients::cli
