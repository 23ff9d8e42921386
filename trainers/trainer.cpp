#include "trainers/trainer.h"

#include <algorithm>
#include <cmath>

#include <ATen/core/grad_mode.h>
#include <ATen/core/Generator.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/types.h>

#include "common/durable_file.h"
#include "common/hex.h"
#include "common/logging.h"
#include "text/training_batches.h"
#include "trainers/adamw.h"
#include "trainers/compute_device.h"
#include "trainers/evaluate.h"
#include "trainers/lora_training.h"
#include "trainers/model_loader.h"
#include "trainers/run_inputs.h"
#include "trainers/train_checkpoint.h"
#include "trainers/training_loss.h"

namespace gradients::train {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration duration) { return std::chrono::duration<double>(duration).count(); }

struct Trainable {
  std::string name;
  at::Tensor tensor;
};

// The error of a run whose numbers left the finite range; it is returned before anything
// non-finite is written, so the checkpoint and the result keep the last finite weights.
common::Status Diverged(const std::string& what) {
  return common::Status::Diverged("training diverged: " + what + "; lower the learning rate");
}

bool IsNormOrBias(const std::string& name) { return name.ends_with("norm.weight") || name.ends_with(".bias"); }

// One run: the model, its trainable tensors, the optimizer, the data plan and the counters that a
// checkpoint saves.
class TrainingRun {
 public:
  explicit TrainingRun(const TrainOptions& options) : options_(options), hp_(options.hyperparameters) {}

  // Plans the run, sets the model up (resumed when asked), steps until a stop rule holds, and
  // finishes: the result, its checkpoint and training_summary.json.
  common::Result<TrainResult> Run(std::vector<text::TokenizedExample> examples, int32_t pad_id);

 private:
  // What the run trains on and for how long: the inputs' identities, the split, the batching and
  // the totals of micro-batches and optimizer steps.
  common::Status PlanRun(std::vector<text::TokenizedExample> examples, int32_t pad_id);
  common::Status Setup();
  common::Status Resume();
  // The counters the reports, the speed and the deadline rule measure this call from.
  void StartClocks();
  // The first stop rule that holds before the next step, in order: the schedule done,
  // cancellation, the token budget, the deadline, early stopping.
  std::optional<StopReason> DueStop() const;
  bool DeadlineTooClose() const;
  // One optimizer step: the gradients of its micro-batches, clipped, then AdamW at the schedule's
  // learning rate.
  void Step();
  // The step's summed loss (on the device); every micro-batch's gradient is scaled for the whole step.
  at::Tensor AccumulateGradients();
  void ClipGradients();
  // After a step: a report every log_every_steps (and at the last step), an evaluation every
  // eval_every_steps, a checkpoint at each evaluation and every checkpoint_every_steps.
  common::Status AfterStep();
  // Evaluates the validation split, keeps the best weights and counts evaluations without improvement.
  common::Status Evaluate();
  // The last report, the result (the best evaluation's weights), the checkpoint of where the run
  // stopped, and training_summary.json.
  common::Result<TrainResult> Finish(StopReason stop_reason);
  TrainResult MakeResult(StopReason stop_reason) const;
  common::Status WriteSummary(const TrainResult& result) const;
  // A copy of everything a resume needs, taken now (refused if a trained tensor is not finite).
  common::Result<TrainCheckpoint> MakeCheckpoint();
  common::Status SaveCheckpoint(const TrainCheckpoint& checkpoint);
  common::Status CheckpointNow();
  common::Status CheckFinite(const std::string& what);
  // How long stopping takes: the closing evaluation, the result and the checkpoint.
  double StopReserveSeconds() const;
  common::Result<double> Validate();
  text::TrainingBatch BatchAt(int64_t micro_batch);
  NamedTensors TrainableCopies() const;
  common::Status LoadTrainables(const NamedTensors& tensors, const std::string& what);
  common::Status Export();
  // Reports progress; the loss reaches the host here, so a non-finite one is found here (an error).
  common::Status Report(ProgressEvent event, std::optional<double> validation_loss);
  at::Tensor FloatZero() const { return at::zeros({}, at::TensorOptions().dtype(at::kFloat).device(device_)); }

  const TrainOptions& options_;
  const Hyperparameters& hp_;
  at::Device device_{at::kCPU};
  CausalLm model_{nullptr};
  std::string stored_dtype_;
  std::vector<Trainable> trainables_;
  std::unique_ptr<AdamW> optimizer_;
  at::Generator dropout_generator_;

  text::DataSplit split_;
  std::string data_digest_;
  text::BatchingOptions batching_;
  std::optional<text::EpochPlan> plan_;
  int64_t batches_per_epoch_ = 0;
  int64_t total_micro_batches_ = 0;
  int64_t total_steps_ = 0;
  int64_t warmup_steps_ = 0;

  TrainState state_;
  NamedTensors best_;
  int64_t evaluated_at_ = -1;  // the step of the last evaluation
  // Since the last report.
  at::Tensor interval_loss_;
  int64_t interval_steps_ = 0;
  int64_t interval_tokens_ = 0;
  Clock::time_point interval_start_;
  at::Tensor last_grad_norm_;
  double last_learning_rate_ = 0;
  double last_train_loss_ = 0;
  Clock::time_point run_start_;
  int64_t steps_at_start_ = 0;
  std::string model_fingerprint_;
  double last_save_seconds_ = -1;  // -1: no checkpoint written yet
  double last_eval_seconds_ = 0;
  double seconds_in_steps_ = 0;  // this call's, evaluations and checkpoints excluded
  int64_t tokens_at_start_ = 0;  // trained before this call (a resume)
};

common::Status TrainingRun::Setup() {
  GRADIENTS_ASSIGN_OR_RETURN(device_, ResolveComputeDevice(options_.device));
  const bool cuda = device_.is_cuda();
  const bool lora = hp_.mode == TrainingMode::kLora;
  if (!cuda) ConfigureCpuThreads(options_.cpu_threads);
  const TrainingPrecision precision = PrecisionFor(device_, hp_.mode);
  ModelLoadOptions load;
  load.device = device_;
  load.dtype = precision.weights;
  GRADIENTS_ASSIGN_OR_RETURN(model_, LoadCausalLm(options_.model_dir, load));
  stored_dtype_ = model_->config().torch_dtype;
  model_->SetComputeDtype(precision.compute);
  model_->train();

  at::Generator init_generator = at::detail::createCPUGenerator(hp_.seed);
  if (cuda) {
    dropout_generator_ = at::globalContext().defaultGenerator(device_);
    dropout_generator_.set_current_seed(hp_.seed);
  } else {
    dropout_generator_ = at::detail::createCPUGenerator(hp_.seed + 1);
  }

  std::vector<ParameterGroup> groups;
  if (lora) {
    GRADIENTS_RETURN_IF_ERROR(AttachLora(model_, hp_.lora, init_generator, dropout_generator_));
    ParameterGroup a_group{.weight_decay = hp_.weight_decay};
    ParameterGroup b_group{.learning_rate_scale = hp_.lora.plus_lr_ratio > 0 ? hp_.lora.plus_lr_ratio : 1.0,
                           .weight_decay = hp_.weight_decay};
    for (auto& [path, projection] : LoraProjections(model_)) {
      trainables_.push_back({path + ".lora_A", projection->lora.a});
      trainables_.push_back({path + ".lora_B", projection->lora.b});
      a_group.names.push_back(path + ".lora_A");
      a_group.parameters.push_back(projection->lora.a);
      b_group.names.push_back(path + ".lora_B");
      b_group.parameters.push_back(projection->lora.b);
    }
    groups = {std::move(a_group), std::move(b_group)};
  } else {
    ParameterGroup decayed{.weight_decay = hp_.weight_decay}, not_decayed{.weight_decay = 0};
    for (const auto& item : model_->named_parameters()) {
      at::Tensor parameter = item.value();
      parameter.set_requires_grad(true);
      trainables_.push_back({item.key(), parameter});
      ParameterGroup& group = IsNormOrBias(item.key()) ? not_decayed : decayed;
      group.names.push_back(item.key());
      group.parameters.push_back(parameter);
    }
    groups = {std::move(decayed), std::move(not_decayed)};
  }
  optimizer_ = std::make_unique<AdamW>(
      std::move(groups), AdamWOptions{.beta1 = hp_.adam_beta1, .beta2 = hp_.adam_beta2, .epsilon = hp_.adam_epsilon});
  return common::Status::Ok();
}

NamedTensors TrainingRun::TrainableCopies() const {
  NamedTensors copies;
  for (const Trainable& trainable : trainables_) {
    copies[trainable.name] = trainable.tensor.detach().to(at::kCPU, /*non_blocking=*/false, /*copy=*/true);
  }
  return copies;
}

common::Status TrainingRun::LoadTrainables(const NamedTensors& tensors, const std::string& what) {
  if (tensors.size() != trainables_.size()) {
    return common::Status::InvalidArgument(what + " holds " + std::to_string(tensors.size()) + " tensors, the run trains " +
                                   std::to_string(trainables_.size()));
  }
  at::NoGradGuard no_grad;
  for (Trainable& trainable : trainables_) {
    auto found = tensors.find(trainable.name);
    if (found == tensors.end()) return common::Status::InvalidArgument(what + " lacks \"" + trainable.name + "\"");
    if (!found->second.sizes().equals(trainable.tensor.sizes())) {
      return common::Status::InvalidArgument(what + ": \"" + trainable.name + "\" has the wrong shape");
    }
    trainable.tensor.copy_(found->second);
  }
  return common::Status::Ok();
}

common::Status TrainingRun::Resume() {
  GRADIENTS_ASSIGN_OR_RETURN(TrainCheckpoint checkpoint, LoadTrainCheckpoint(options_.out_dir / "checkpoint"));
  const std::string where = (options_.out_dir / "checkpoint").string();
  if (checkpoint.state.hyperparameters != hp_.ToJson()) {
    return common::Status::FailedPrecondition("cannot resume: the hyperparameters differ from those of " + where);
  }
  if (checkpoint.state.model_fingerprint != model_fingerprint_) {
    return common::Status::FailedPrecondition("cannot resume: the model differs from the one " + where + " was trained on");
  }
  if (checkpoint.state.data_digest != data_digest_) {
    return common::Status::FailedPrecondition("cannot resume: the data (or its tokenization) differs from that of " + where);
  }
  GRADIENTS_RETURN_IF_ERROR(LoadTrainables(checkpoint.trainable, where + "/trainable.safetensors"));
  // The moments are created on the parameters' devices, then filled from the file.
  NamedTensors moments;
  for (auto& [name, tensor] : checkpoint.optimizer) moments[name] = tensor;
  GRADIENTS_RETURN_IF_ERROR(optimizer_->LoadState(moments, checkpoint.state.step));
  GRADIENTS_ASSIGN_OR_RETURN(std::vector<uint8_t> generator_bytes, common::FromHex(checkpoint.state.generator_state));
  at::Tensor generator_state = at::empty({static_cast<int64_t>(generator_bytes.size())}, at::kByte);
  std::copy(generator_bytes.begin(), generator_bytes.end(), generator_state.data_ptr<uint8_t>());
  try {
    dropout_generator_.set_state(generator_state);
  } catch (const c10::Error&) {
    return common::Status::InvalidArgument(where + "/state.json: generator_state does not fit this device's generator");
  }
  state_ = checkpoint.state;
  best_ = std::move(checkpoint.best);
  common::GetLogger("trainer")->info("resumed from step {} ({})", state_.step, where);
  return common::Status::Ok();
}

common::Status TrainingRun::CheckFinite(const std::string& what) {
  at::NoGradGuard no_grad;
  for (const Trainable& trainable : trainables_) {
    if (!at::isfinite(trainable.tensor).all().item<bool>()) {
      return Diverged(trainable.name + " holds a non-finite value " + what);
    }
  }
  return common::Status::Ok();
}

common::Result<TrainCheckpoint> TrainingRun::MakeCheckpoint() {
  GRADIENTS_RETURN_IF_ERROR(CheckFinite("at step " + std::to_string(state_.step)));
  TrainCheckpoint checkpoint;
  checkpoint.state = state_;
  checkpoint.state.hyperparameters = hp_.ToJson();
  checkpoint.state.data_digest = data_digest_;
  checkpoint.state.model_fingerprint = model_fingerprint_;
  at::Tensor generator_state = dropout_generator_.get_state();
  checkpoint.state.generator_state =
      common::ToHex({generator_state.data_ptr<uint8_t>(), static_cast<size_t>(generator_state.numel())});
  checkpoint.trainable = TrainableCopies();
  for (auto& [name, tensor] : optimizer_->StateTensors()) checkpoint.optimizer[name] = tensor.to(at::kCPU);
  checkpoint.best = best_;
  return checkpoint;
}

common::Status TrainingRun::SaveCheckpoint(const TrainCheckpoint& checkpoint) {
  const Clock::time_point start = Clock::now();
  GRADIENTS_RETURN_IF_ERROR(SaveTrainCheckpoint(options_.out_dir / "checkpoint", checkpoint));
  last_save_seconds_ = Seconds(Clock::now() - start);
  return common::Status::Ok();
}

common::Status TrainingRun::CheckpointNow() {
  GRADIENTS_ASSIGN_OR_RETURN(TrainCheckpoint checkpoint, MakeCheckpoint());
  return SaveCheckpoint(checkpoint);
}

double TrainingRun::StopReserveSeconds() const {
  double save = last_save_seconds_;
  if (save < 0) {
    // Not measured yet: the trained tensors, AdamW's two moments and a best copy, at a cautious
    // 100 MB/s.
    double bytes = 0;
    for (const Trainable& trainable : trainables_) bytes += static_cast<double>(trainable.tensor.numel()) * 4 * 4;
    save = bytes / 100e6;
  }
  // The result is about the size of a checkpoint's trained tensors; count it as a whole checkpoint.
  return last_eval_seconds_ + 2 * save;
}

text::TrainingBatch TrainingRun::BatchAt(int64_t micro_batch) {
  const int64_t epoch = micro_batch / batches_per_epoch_;
  if (!plan_ || plan_->epoch() != epoch) {
    // Create cannot fail here: the same options and examples were accepted for epoch 0.
    plan_ = text::EpochPlan::Create(split_.train, batching_, epoch).value();
  }
  return plan_->Batch(micro_batch % batches_per_epoch_);
}

common::Result<double> TrainingRun::Validate() {
  model_->eval();
  common::Result<EvalResult> result = EvaluateLoss(model_, split_.validation);
  model_->train();
  if (!result.ok()) return result.status();
  return result->loss;
}

common::Status TrainingRun::Report(ProgressEvent event, std::optional<double> validation_loss) {
  const Clock::time_point now = Clock::now();
  TrainProgress progress;
  progress.event = event;
  progress.step = state_.step;
  progress.total_steps = total_steps_;
  progress.epoch = batches_per_epoch_ > 0
                       ? static_cast<double>(state_.micro_batches) / static_cast<double>(batches_per_epoch_)
                       : 0;
  if (interval_steps_ > 0) {
    last_train_loss_ = interval_loss_.item<double>() / static_cast<double>(interval_steps_);
  }
  progress.loss = last_train_loss_;
  progress.learning_rate = last_learning_rate_;
  progress.grad_norm = last_grad_norm_.defined() ? last_grad_norm_.item<double>() : 0;
  progress.tokens = state_.tokens;
  const double interval_seconds = Seconds(now - interval_start_);
  progress.tokens_per_second = interval_seconds > 0 ? static_cast<double>(interval_tokens_) / interval_seconds : 0;
  progress.elapsed_seconds = Seconds(now - run_start_);
  const int64_t steps_here = state_.step - steps_at_start_;
  progress.eta_seconds = steps_here > 0 ? progress.elapsed_seconds / static_cast<double>(steps_here) *
                                              static_cast<double>(total_steps_ - state_.step)
                                        : 0;
  progress.validation_loss = validation_loss;
  if (event == ProgressEvent::kStep) {
    interval_loss_ = FloatZero();
    interval_steps_ = 0;
    interval_tokens_ = 0;
    interval_start_ = now;
  }
  if (options_.on_progress) options_.on_progress(progress);
  if (!std::isfinite(last_train_loss_)) {
    return Diverged("the loss is " + std::to_string(last_train_loss_) + " at step " + std::to_string(state_.step));
  }
  return common::Status::Ok();
}

common::Status TrainingRun::Export() {
  GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(options_.out_dir / "checkpoint.new"));
  if (hp_.mode == TrainingMode::kLora) {
    LoraAdapter adapter =
        ExtractLoraAdapter(model_, MakeLoraAdapterConfig(hp_.lora, options_.model_dir.string()));
    return SaveLoraAdapter(adapter, options_.out_dir);
  }
  ModelSaveOptions save;
  // The fine-tune is stored as its base was (a bfloat16 model stays bfloat16).
  save.dtype = stored_dtype_ == "bfloat16" ? at::kBFloat16 : stored_dtype_ == "float16" ? at::kHalf : at::kFloat;
  GRADIENTS_RETURN_IF_ERROR(SaveCausalLm(model_, options_.out_dir, save));
  return CopyTokenizerFiles(options_.model_dir, options_.out_dir);
}

common::Status TrainingRun::PlanRun(std::vector<text::TokenizedExample> examples, int32_t pad_id) {
  data_digest_ = DataDigest(examples);
  GRADIENTS_ASSIGN_OR_RETURN(model_fingerprint_, ModelFingerprint(options_.model_dir));
  GRADIENTS_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(options_.model_dir));
  GRADIENTS_RETURN_IF_ERROR(CheckVocabulary(examples, config.vocab_size));
  split_ = text::SplitValidation(std::move(examples), hp_.validation_fraction, hp_.seed);
  batching_ = text::BatchingOptions{.micro_batch_size = hp_.micro_batch_size,
                                    .max_length = hp_.max_length,
                                    .packing = hp_.packing,
                                    .pad_id = pad_id,
                                    .seed = hp_.seed};
  GRADIENTS_ASSIGN_OR_RETURN(batches_per_epoch_, text::MicroBatchesPerEpoch(split_.train, batching_));
  if (batches_per_epoch_ == 0) {
    return common::Status::InvalidArgument("no training example has a token to learn (after the validation split)");
  }
  const int64_t accumulation = hp_.gradient_accumulation_steps;
  if (hp_.max_steps > 0) {
    total_steps_ = hp_.max_steps;
    total_micro_batches_ = hp_.max_steps * accumulation;
  } else {
    total_micro_batches_ =
        std::max<int64_t>(1, static_cast<int64_t>(std::ceil(hp_.epochs * static_cast<double>(batches_per_epoch_))));
    total_steps_ = (total_micro_batches_ + accumulation - 1) / accumulation;
  }
  warmup_steps_ = hp_.WarmupSteps(total_steps_);
  return common::Status::Ok();
}

void TrainingRun::StartClocks() {
  interval_loss_ = FloatZero();
  run_start_ = interval_start_ = Clock::now();
  steps_at_start_ = state_.step;
  tokens_at_start_ = state_.tokens;
}

std::optional<StopReason> TrainingRun::DueStop() const {
  if (state_.step >= total_steps_) return hp_.max_steps > 0 ? StopReason::kMaxSteps : StopReason::kCompleted;
  if (options_.cancel != nullptr && options_.cancel->load()) return StopReason::kCancelled;
  if (hp_.max_train_tokens > 0 && state_.tokens >= hp_.max_train_tokens) return StopReason::kMaxTrainTokens;
  if (DeadlineTooClose()) return StopReason::kDeadline;
  if (hp_.early_stopping_patience > 0 && state_.evaluations_without_improvement >= hp_.early_stopping_patience) {
    return StopReason::kEarlyStopping;
  }
  return std::nullopt;
}

// When one more step (twice the average, for safety) and then stopping (the closing evaluation,
// writing the result and the checkpoint) would pass the deadline.
bool TrainingRun::DeadlineTooClose() const {
  if (!options_.deadline) return false;
  const int64_t steps_here = state_.step - steps_at_start_;
  const double step_seconds = steps_here > 0 ? Seconds(Clock::now() - run_start_) / static_cast<double>(steps_here) : 0;
  const auto remaining =
      std::chrono::duration<double>(*options_.deadline - common::TimePointOfMs(options_.now_ms()));
  return remaining.count() <= 2 * step_seconds + StopReserveSeconds();
}

void TrainingRun::Step() {
  const Clock::time_point step_start = Clock::now();
  at::Tensor step_loss = AccumulateGradients();
  ClipGradients();
  last_learning_rate_ =
      hp_.learning_rate * LearningRateMultiplier(hp_.lr_scheduler, state_.step, warmup_steps_, total_steps_);
  optimizer_->Step(last_learning_rate_);
  optimizer_->ZeroGrad();
  ++state_.step;
  interval_loss_.add_(step_loss);
  ++interval_steps_;
  seconds_in_steps_ += Seconds(Clock::now() - step_start);
}

at::Tensor TrainingRun::AccumulateGradients() {
  // The step's micro-batches, and the tokens its loss averages over (known before any compute).
  const int64_t first = state_.micro_batches;
  const int64_t last =
      std::min(first + hp_.gradient_accumulation_steps, std::max(total_micro_batches_, first + 1));
  std::vector<text::TrainingBatch> batches;
  int64_t predicted = 0;
  for (int64_t m = first; m < last; ++m) {
    batches.push_back(BatchAt(m));
    predicted += batches.back().predicted_tokens;
  }
  at::Tensor step_loss = FloatZero();
  for (const text::TrainingBatch& batch : batches) {
    if (batch.predicted_tokens == 0) continue;
    at::Tensor loss = TrainingLoss(model_, batch, static_cast<double>(predicted), options_.activation_checkpointing);
    loss.backward();
    step_loss.add_(loss.detach());
    state_.tokens += batch.tokens;
    interval_tokens_ += batch.tokens;
  }
  state_.micro_batches = last;
  return step_loss;
}

void TrainingRun::ClipGradients() {
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (Trainable& trainable : trainables_) {
    if (trainable.tensor.grad().defined()) grads.push_back(trainable.tensor.grad());
  }
  // One multi-tensor kernel for all the norms on a GPU rather than one launch per parameter.
  last_grad_norm_ = grads.empty() ? FloatZero() : at::stack(at::_foreach_norm(grads)).norm();
  if (hp_.max_grad_norm <= 0) return;
  // torch.nn.utils.clip_grad_norm_: scale by max_norm / (norm + 1e-6) when that is below 1, as a
  // tensor, so no value has to come back to the host.
  at::Tensor factor = (hp_.max_grad_norm / (last_grad_norm_ + 1e-6)).clamp_max(1.0);
  for (Trainable& trainable : trainables_) {
    if (trainable.tensor.grad().defined()) trainable.tensor.mutable_grad().mul_(factor);
  }
}

common::Status TrainingRun::AfterStep() {
  if (state_.step % options_.log_every_steps == 0 || state_.step == total_steps_) {
    GRADIENTS_RETURN_IF_ERROR(Report(ProgressEvent::kStep, std::nullopt));
  }
  const bool evaluation_due =
      !split_.validation.empty() && hp_.eval_every_steps > 0 && state_.step % hp_.eval_every_steps == 0;
  if (evaluation_due) GRADIENTS_RETURN_IF_ERROR(Evaluate());
  if (evaluation_due || (options_.checkpoint_every_steps > 0 && state_.step % options_.checkpoint_every_steps == 0)) {
    GRADIENTS_RETURN_IF_ERROR(CheckpointNow());
  }
  return common::Status::Ok();
}

common::Status TrainingRun::Evaluate() {
  const Clock::time_point start = Clock::now();
  GRADIENTS_ASSIGN_OR_RETURN(double loss, Validate());
  last_eval_seconds_ = Seconds(Clock::now() - start);
  if (!std::isfinite(loss)) {
    return Diverged("the validation loss is " + std::to_string(loss) + " at step " + std::to_string(state_.step));
  }
  evaluated_at_ = state_.step;
  if (!state_.best_validation_loss || loss < *state_.best_validation_loss) {
    state_.best_validation_loss = loss;
    state_.best_step = state_.step;
    state_.evaluations_without_improvement = 0;
    best_ = TrainableCopies();
  } else {
    ++state_.evaluations_without_improvement;
  }
  return Report(ProgressEvent::kEval, loss);
}

common::Result<TrainResult> TrainingRun::Finish(StopReason stop_reason) {
  if (interval_steps_ > 0) GRADIENTS_RETURN_IF_ERROR(Report(ProgressEvent::kStep, std::nullopt));
  // The checkpoint is copied before the closing evaluation: an uninterrupted run would not have
  // evaluated here, so a resume from it continues exactly as if there had been no stop. The result
  // (the best evaluation's weights) is written before the checkpoint: near a deadline it is what
  // must not be missing.
  GRADIENTS_ASSIGN_OR_RETURN(TrainCheckpoint last_state, MakeCheckpoint());
  if (!split_.validation.empty() && evaluated_at_ != state_.step) GRADIENTS_RETURN_IF_ERROR(Evaluate());
  if (!best_.empty() && state_.best_step != state_.step) {
    GRADIENTS_RETURN_IF_ERROR(LoadTrainables(best_, "the best weights"));
  }
  GRADIENTS_RETURN_IF_ERROR(Export());
  GRADIENTS_RETURN_IF_ERROR(SaveCheckpoint(last_state));
  TrainResult result = MakeResult(stop_reason);
  GRADIENTS_RETURN_IF_ERROR(WriteSummary(result));
  return result;
}

TrainResult TrainingRun::MakeResult(StopReason stop_reason) const {
  TrainResult result;
  result.steps = state_.step;
  result.total_steps = total_steps_;
  result.tokens = state_.tokens;
  result.seconds_in_steps = seconds_in_steps_;
  result.resumed_tokens = tokens_at_start_;
  result.stop_reason = stop_reason;
  result.train_loss = last_train_loss_;
  result.best_validation_loss = state_.best_validation_loss;
  result.best_step = best_.empty() ? state_.step : state_.best_step;
  result.train_examples = static_cast<int64_t>(split_.train.size());
  result.validation_examples = static_cast<int64_t>(split_.validation.size());
  return result;
}

common::Status TrainingRun::WriteSummary(const TrainResult& result) const {
  nlohmann::json summary = {{"steps", result.steps},
                            {"total_steps", result.total_steps},
                            {"tokens", result.tokens},
                            {"stop_reason", common::EnumName(result.stop_reason)},
                            {"train_loss", result.train_loss},
                            {"best_validation_loss", nullptr},
                            {"best_step", result.best_step},
                            {"train_examples", result.train_examples},
                            {"validation_examples", result.validation_examples},
                            {"hyperparameters", hp_.ToJson()}};
  if (result.best_validation_loss) summary["best_validation_loss"] = *result.best_validation_loss;
  return common::WriteFileDurably(options_.out_dir / "training_summary.json", summary.dump(2) + "\n");
}

common::Result<TrainResult> TrainingRun::Run(std::vector<text::TokenizedExample> examples, int32_t pad_id) {
  GRADIENTS_RETURN_IF_ERROR(PlanRun(std::move(examples), pad_id));
  GRADIENTS_RETURN_IF_ERROR(Setup());
  if (options_.resume) GRADIENTS_RETURN_IF_ERROR(Resume());
  common::GetLogger("trainer")->info(
      "training {} ({} examples, {} for validation), {} micro-batches per epoch, {} optimizer steps",
      common::EnumName(hp_.mode), split_.train.size(), split_.validation.size(), batches_per_epoch_, total_steps_);
  StartClocks();
  std::optional<StopReason> stop;
  while (!(stop = DueStop())) {
    Step();
    GRADIENTS_RETURN_IF_ERROR(AfterStep());
  }
  return Finish(*stop);
}

}  // namespace

TrainingPrecision PrecisionFor(const c10::Device& device, TrainingMode mode) {
  if (!device.is_cuda()) return {};
  return {.weights = mode == TrainingMode::kLora ? at::kBFloat16 : at::kFloat, .compute = at::kBFloat16};
}

common::Result<TrainResult> Train(const TrainOptions& options, std::vector<text::TokenizedExample> examples, int32_t pad_id) {
  if (options.log_every_steps < 1) return common::Status::InvalidArgument("log_every_steps must be at least 1");
  if (options.checkpoint_every_steps < 0) return common::Status::InvalidArgument("checkpoint_every_steps must not be negative");
  try {
    TrainingRun run(options);
    return run.Run(std::move(examples), pad_id);
  } catch (const c10::Error& error) {
    // libtorch reports device failures (out of memory above all) as exceptions.
    return common::Status::Internal(std::string("training failed: ") + error.what_without_backtrace());
  } catch (const std::exception& error) {
    // Memory exhaustion on the host, file system errors: the run fails, the process does not.
    return common::Status::Internal(std::string("training failed: ") + error.what());
  }
}

}  // namespace gradients::train
