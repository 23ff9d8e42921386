// train_throughput: training steps per second of this project's trainer on a randomly initialised
// Llama-shaped model with full-length random rows: the step `gradients train` runs (forward, fused
// output projection + cross-entropy, backward, AdamW), without data loading. Prints one JSON line.
//
//   train_throughput --hidden 256 --layers 4 --heads 4 --kv-heads 4 --ffn 688 --vocab 4096
//     train_throughput ... --batch 8 --seq 256 --mode lora --steps 20 --warmup 3 --threads 1 [--device cpu|cuda]
//
// --threads is libtorch's intra-op pool; the default 1 is what `gradients train` uses with
// Debian's libtorch (OpenBLAS runs its own threads on every core; see trainers/trainer.h).
//
// The same shapes and counting as ../shared/bench/torch_reference.py train-bench (bench/train_bench.py
// runs both side by side): tokens/s = batch * seq * steps / seconds. On CUDA it also reports the
// peak of allocated GPU memory.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>
#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/types.h>
#include <torch/version.h>

#ifdef GRADIENTS_BENCH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#endif

#include "trainers/adamw.h"
#include "trainers/causal_lm.h"
#include "trainers/compute_device.h"
#include "trainers/init_model.h"
#include "trainers/lora_training.h"
#include "trainers/trainer.h"
#include "trainers/training_loss.h"

namespace {

using gradients::train::CausalLm;

std::map<std::string, std::string> ParseFlags(int argc, char** argv) {
  std::map<std::string, std::string> flags = {
      {"hidden", "256"}, {"layers", "4"},  {"heads", "4"},   {"kv-heads", "4"}, {"ffn", "688"},
      {"vocab", "4096"}, {"batch", "8"},   {"seq", "256"},   {"steps", "20"},   {"warmup", "3"},
      {"threads", "1"},  {"rank", "16"},   {"alpha", "32"},  {"mode", "lora"},  {"device", "cpu"},
      {"activation-checkpointing", "0"}, {"profile", ""}};
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string name = argv[i];
    if (name.rfind("--", 0) != 0 || !flags.contains(name.substr(2))) {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      std::exit(2);
    }
    flags[name.substr(2)] = argv[i + 1];
  }
  return flags;
}

void Synchronize([[maybe_unused]] const at::Device& device) {
#ifdef GRADIENTS_BENCH_CUDA
  if (device.is_cuda()) c10::cuda::device_synchronize();
#endif
}

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags = ParseFlags(argc, argv);
  auto integer = [&](const char* name) { return std::stoll(flags[name]); };
  at::set_num_threads(static_cast<int>(integer("threads")));
  torch::manual_seed(0);
  gradients::common::Result<c10::Device> device = gradients::train::ResolveComputeDevice(flags["device"]);
  if (!device.ok()) {
    std::fprintf(stderr, "%s\n", device.status().message().c_str());
    return 2;
  }
  gradients::train::ModelConfig config;
  config.hidden_size = integer("hidden");
  config.intermediate_size = integer("ffn");
  config.num_hidden_layers = integer("layers");
  config.num_attention_heads = integer("heads");
  config.num_key_value_heads = integer("kv-heads");
  config.head_dim = config.hidden_size / config.num_attention_heads;
  config.vocab_size = integer("vocab");
  config.rms_norm_eps = 1e-5;
  config.max_position_embeddings = std::max<int64_t>(2048, integer("seq"));
  const bool lora = flags["mode"] == "lora";

  CausalLm model(config);
  gradients::train::InitializeWeights(model, 0);
  // As gradients train keeps and computes them.
  const gradients::train::TrainingPrecision precision = gradients::train::PrecisionFor(
      *device, lora ? gradients::train::TrainingMode::kLora : gradients::train::TrainingMode::kFull);
  model->to(*device, precision.weights);
  model->SetComputeDtype(precision.compute);
  model->train();
  std::vector<gradients::train::ParameterGroup> groups(1);
  if (lora) {
    gradients::train::LoraHyperparameters options;
    options.r = integer("rank");
    options.alpha = static_cast<double>(integer("alpha"));
    options.dropout = 0;
    at::Generator generator = at::detail::createCPUGenerator(0);
    if (gradients::common::Status status = gradients::train::AttachLora(model, options, generator, generator); !status.ok()) {
      std::fprintf(stderr, "%s\n", status.message().c_str());
      return 1;
    }
    for (auto& [path, projection] : gradients::train::LoraProjections(model)) {
      groups[0].names.insert(groups[0].names.end(), {path + ".lora_A", path + ".lora_B"});
      groups[0].parameters.insert(groups[0].parameters.end(), {projection->lora.a, projection->lora.b});
    }
  } else {
    for (const auto& item : model->named_parameters()) {
      groups[0].names.push_back(item.key());
      groups[0].parameters.push_back(item.value());
    }
  }
  gradients::train::AdamW optimizer(groups, {});

  const int64_t batch = integer("batch"), seq = integer("seq");
  gradients::text::TrainingBatch rows;
  rows.rows = batch;
  rows.columns = seq;
  at::Tensor ids = torch::randint(0, config.vocab_size, {batch * seq}, torch::kLong);
  rows.input_ids.assign(ids.data_ptr<int64_t>(), ids.data_ptr<int64_t>() + batch * seq);
  rows.labels = rows.input_ids;
  rows.tokens = batch * seq;
  rows.predicted_tokens = batch * (seq - 1);
  const bool checkpoint = integer("activation-checkpointing") != 0;

  auto train_step = [&] {
    at::Tensor step_loss = gradients::train::TrainingLoss(model, rows, static_cast<double>(rows.predicted_tokens), checkpoint);
    step_loss.backward();
    optimizer.Step(1e-4);
    optimizer.ZeroGrad();
    return step_loss;
  };
  const int64_t warmup = integer("warmup"), steps = integer("steps");
  at::Tensor loss;
  std::chrono::steady_clock::time_point start;
#ifdef GRADIENTS_BENCH_CUDA
  // As bench/gpu/hf_train_bench.py: the peak counts from the built model on (weights included).
  if (device->is_cuda()) c10::cuda::CUDACachingAllocator::resetPeakStats(device->index());
#endif
  for (int64_t i = 0; i < warmup + steps; ++i) {
    if (i == warmup) {
      Synchronize(*device);
      start = std::chrono::steady_clock::now();
    }
    loss = train_step();
  }
  const double final_loss = loss.item<double>();  // synchronises
  Synchronize(*device);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (!flags["profile"].empty()) {
    // Three more steps under PyTorch's profiler (kineto): a Chrome trace of the operators and, on
    // CUDA, the kernels; bench/gpu/profile_summary.py reads it.
    namespace profiler = torch::autograd::profiler;
    const torch::profiler::impl::ProfilerConfig profile_config(torch::profiler::impl::ProfilerState::KINETO);
    std::set<torch::profiler::impl::ActivityType> activities = {torch::profiler::impl::ActivityType::CPU};
    if (device->is_cuda()) activities.insert(torch::profiler::impl::ActivityType::CUDA);
    profiler::prepareProfiler(profile_config, activities);
    profiler::enableProfiler(profile_config, activities);
    for (int i = 0; i < 3; ++i) {
      loss = train_step();
    }
    Synchronize(*device);
    try {
      profiler::disableProfiler()->save(flags["profile"]);
    } catch (const c10::Error& error) {  // Debian's libtorch is built without kineto
      std::fprintf(stderr, "--profile: %s\n", error.what_without_backtrace());
      return 1;
    }
  }

  nlohmann::json result = {{"impl", "gradients"},
                           {"torch", TORCH_VERSION},
                           {"device", gradients::train::ComputeDeviceName(*device)},
                           {"mode", flags["mode"]},
                           {"threads", at::get_num_threads()},
                           {"batch", batch},
                           {"seq", seq},
                           {"tokens_per_s", static_cast<double>(batch * seq * steps) / seconds},
                           {"step_ms", 1000 * seconds / static_cast<double>(steps)},
                           {"loss", final_loss}};
#ifdef GRADIENTS_BENCH_CUDA
  if (device->is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device->index());
    // Entry 0 is the aggregate over pool types (StatType::AGGREGATE, whose namespace moved between
    // PyTorch versions).
    result["peak_gib"] = static_cast<double>(stats.allocated_bytes[0].peak) / (1024.0 * 1024.0 * 1024.0);
  }
#endif
  std::printf("%s\n", result.dump().c_str());
  return 0;
}
