#include "trainers/training_speed.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>

#include "trainers/adamw.h"
#include "trainers/causal_lm.h"
#include "trainers/compute_device.h"
#include "trainers/init_model.h"
#include "trainers/trainer.h"
#include "trainers/training_loss.h"

namespace gradients::train {

common::Result<TrainingSpeed> MeasureTrainingSpeed(const TrainingSpeedProbe& probe, std::string_view device_name) {
  if (probe.hidden_size <= 0 || probe.layers <= 0 || probe.heads <= 0 || probe.hidden_size % probe.heads != 0 ||
      probe.intermediate_size <= 0 || probe.vocab_size <= 1 || probe.batch <= 0 || probe.sequence <= 1 ||
      probe.warmup_steps < 0 || probe.timed_steps <= 0) {
    return common::Status::InvalidArgument(
        "training speed probe: positive sizes, heads dividing the hidden size, rows of "
        "at least 2 tokens and at least one timed step");
  }
  common::Result<c10::Device> device = ResolveComputeDevice(device_name);
  if (!device.ok()) return device.status();
  if (device->is_cpu()) ConfigureCpuThreads();  // as `gradients train` runs
  try {
    ModelConfig config;
    config.hidden_size = probe.hidden_size;
    config.intermediate_size = probe.intermediate_size;
    config.num_hidden_layers = probe.layers;
    config.num_attention_heads = probe.heads;
    config.num_key_value_heads = probe.heads;
    config.head_dim = probe.hidden_size / probe.heads;
    config.vocab_size = probe.vocab_size;
    config.rms_norm_eps = 1e-5;
    config.max_position_embeddings = probe.sequence;
    CausalLm model(config);
    InitializeWeights(model, 0);
    const TrainingPrecision precision = PrecisionFor(*device, TrainingMode::kFull);
    model->to(*device, precision.weights);
    model->SetComputeDtype(precision.compute);
    model->train();
    ParameterGroup group;
    int64_t parameters = 0;
    for (const auto& item : model->named_parameters()) {
      group.names.push_back(item.key());
      group.parameters.push_back(item.value());
      parameters += item.value().numel();
    }
    AdamW optimizer({group}, {});
    text::TrainingBatch rows;
    rows.rows = probe.batch;
    rows.columns = probe.sequence;
    const int64_t tokens = probe.batch * probe.sequence;
    // Any ids will do; a fixed pattern keeps the probe free of a random source.
    for (int64_t i = 0; i < tokens; ++i) rows.input_ids.push_back((i * 7919) % probe.vocab_size);
    rows.labels = rows.input_ids;
    rows.tokens = tokens;
    rows.predicted_tokens = probe.batch * (probe.sequence - 1);
    at::Tensor loss;
    std::chrono::steady_clock::time_point started;
    for (int64_t step = 0; step < probe.warmup_steps + probe.timed_steps; ++step) {
      if (step == probe.warmup_steps) {
        if (loss.defined()) (void)loss.item<double>();  // waits for queued GPU work
        started = std::chrono::steady_clock::now();
      }
      loss = TrainingLoss(model, rows, static_cast<double>(rows.predicted_tokens));
      loss.backward();
      optimizer.Step(1e-4);
      optimizer.ZeroGrad();
    }
    (void)loss.item<double>();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    TrainingSpeed speed{.device = ComputeDeviceName(*device), .parameters = parameters};
    speed.tokens_per_second = static_cast<double>(tokens * probe.timed_steps) / std::max(seconds, 1e-9);
    speed.flops_per_second = speed.tokens_per_second * 6.0 * static_cast<double>(parameters);
    return speed;
  } catch (const c10::Error& error) {
    return common::Status::Internal(std::string("training speed probe: ") + error.what_without_backtrace());
  } catch (const std::exception& error) {  // out of memory, say
    return common::Status::Internal(std::string("training speed probe: ") + error.what());
  }
}

}  // namespace gradients::train
