// A fine-tuning run: LoRA or full fine-tuning of a Hugging Face-layout model on tokenized
// examples, with AdamW, a warmup + decay schedule, gradient accumulation and clipping, a local
// validation split with early stopping and keep-best, budgets (steps, tokens, a deadline) and
// checkpoints that resume exactly.
//
// The output directory holds the result (a PEFT adapter, or a full model with its tokenizer
// files), training_summary.json, and checkpoint/ (what --resume continues from):
//   checkpoint/state.json            step, data position, generator state, best validation loss,
//                                    the hyperparameters and a digest of the data (a resume with
//                                    other ones is refused)
//   checkpoint/trainable.safetensors the trained tensors (adapter or model)
//   checkpoint/optimizer.safetensors AdamW's moments
//   checkpoint/best.safetensors      the trained tensors at the best validation loss
// A checkpoint is written to checkpoint.new/ and renamed into place, so a crash leaves the last
// complete one.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>

#include <c10/core/Device.h>
#include <c10/core/ScalarType.h>

#include "common/clock.h"
#include "common/enum_names.h"
#include "common/status.h"
#include "text/dataset.h"
#include "trainers/hyperparameters.h"

namespace gradients::train {

// How a run keeps its weights and computes. On a GPU the compute is bfloat16: LoRA keeps the frozen
// base in bfloat16 (half the memory, no casts; its adapters are float32), full fine-tuning keeps
// float32 master weights cast to bfloat16 where used. On the CPU everything is float32: exact and
// deterministic.
struct TrainingPrecision {
  at::ScalarType weights = at::kFloat;
  std::optional<at::ScalarType> compute;  // none: the weights' dtype
};
TrainingPrecision PrecisionFor(const c10::Device& device, TrainingMode mode);

// Why a report was made: optimizer steps done, or an evaluation of the validation split.
enum class ProgressEvent { kStep, kEval };
constexpr auto EnumNames(ProgressEvent) {
  return std::to_array<common::EnumNameEntry<ProgressEvent>>(
      {{ProgressEvent::kStep, "step"}, {ProgressEvent::kEval, "eval"}});
}

// What a progress report carries; the loss and speed are averages since the previous report.
struct TrainProgress {
  ProgressEvent event = ProgressEvent::kStep;
  int64_t step = 0;
  int64_t total_steps = 0;
  double epoch = 0;  // fractional epochs done
  double loss = 0;
  double learning_rate = 0;
  double grad_norm = 0;  // before clipping
  int64_t tokens = 0;    // training tokens so far (padding excluded)
  double tokens_per_second = 0;
  double elapsed_seconds = 0;
  double eta_seconds = 0;
  std::optional<double> validation_loss;
};

struct TrainOptions {
  Hyperparameters hyperparameters;
  std::filesystem::path model_dir;
  std::filesystem::path out_dir;
  std::string device = "cpu";  // see trainers/compute_device.h
  // Continue from out_dir/checkpoint; refused when the hyperparameters or the data differ.
  bool resume = false;
  // Stop in time to save the result before this moment, as `now_ms` tells the time.
  std::optional<std::chrono::system_clock::time_point> deadline;
  common::ClockMs now_ms = common::SystemClockMs;
  // Reports (and the host synchronisation they cost on a GPU) every this many optimizer steps.
  int64_t log_every_steps = 1;
  // A checkpoint every this many optimizer steps (0: at evaluations and at the end only).
  int64_t checkpoint_every_steps = 0;
  // Recompute each layer's activations in the backward pass instead of keeping them: less memory
  // for long sequences, about a third more compute.
  bool activation_checkpointing = false;
  // libtorch's intra-op threads when training on the CPU; 0 chooses (ConfigureCpuThreads in
  // trainers/compute_device.h).
  int cpu_threads = 0;
  std::function<void(const TrainProgress&)> on_progress;
  // When it becomes true (a signal handler, the miner cancelling a task), the run stops before its
  // next step, checkpoints and writes its result as for any other stop.
  const std::atomic<bool>* cancel = nullptr;
};

// Why a run stopped without an error: its schedule done, a budget spent, no improvement for the
// patience, or cancelled. Spelled as training_summary.json and `gradients train` write it.
enum class StopReason { kCompleted, kMaxSteps, kMaxTrainTokens, kDeadline, kEarlyStopping, kCancelled };
constexpr auto EnumNames(StopReason) {
  return std::to_array<common::EnumNameEntry<StopReason>>({{StopReason::kCompleted, "completed"},
                                                           {StopReason::kMaxSteps, "max_steps"},
                                                           {StopReason::kMaxTrainTokens, "max_train_tokens"},
                                                           {StopReason::kDeadline, "deadline"},
                                                           {StopReason::kEarlyStopping, "early_stopping"},
                                                           {StopReason::kCancelled, "cancelled"}});
}

struct TrainResult {
  int64_t steps = 0;
  int64_t total_steps = 0;
  int64_t tokens = 0;
  int64_t resumed_tokens = 0;  // of those, trained before this call (by the run it resumed)
  // Wall time this call spent in training steps (loading, evaluation and checkpoints excluded); on a
  // GPU it counts queued work only where a report or a checkpoint waited for it.
  double seconds_in_steps = 0;
  StopReason stop_reason = StopReason::kCompleted;
  double train_loss = 0;  // mean over the last reporting interval
  std::optional<double> best_validation_loss;
  int64_t best_step = 0;  // the step whose weights were saved when keep-best applied
  int64_t train_examples = 0;
  int64_t validation_examples = 0;
};

// Splits `examples` (a validation share per the hyperparameters), trains and writes the result to
// out_dir. `pad_id` fills the padding of short rows; it is never a label, so any id serves (the
// CLI passes the tokenizer's EOS, as Hugging Face trainers do, else 0). A run whose loss or weights
// stop being finite fails with StatusCode::kDiverged ("training diverged: ..."), before anything
// non-finite is written: its checkpoint keeps the last finite weights.
common::Result<TrainResult> Train(const TrainOptions& options, std::vector<text::TokenizedExample> examples, int32_t pad_id);

}  // namespace gradients::train
