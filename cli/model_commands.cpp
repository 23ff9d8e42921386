#include "cli/model_commands.h"

#include <cmath>
#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/command_failure.h"
#include "cli/dataset_flags.h"
#include "cli/dtype_flag.h"
#include "trainers/compute_device.h"
#include "text/dataset.h"
#include "trainers/evaluate.h"
#include "trainers/generate.h"
#include "trainers/init_model.h"
#include "trainers/model_loader.h"
#include "trainers/submission_check.h"
#include "text/tokenizer.h"

namespace gradients::cli {
namespace {

common::Result<train::CausalLm> LoadOnDevice(const std::filesystem::path& model_dir, const std::filesystem::path& adapter,
                              const std::string& device_name, at::ScalarType dtype = at::kFloat, int threads = 0) {
  GRADIENTS_ASSIGN_OR_RETURN(c10::Device device, train::ResolveComputeDevice(device_name));
  if (device.is_cpu()) train::ConfigureCpuThreads(threads);
  train::ModelLoadOptions options;
  options.device = device;
  options.adapter = adapter;
  options.dtype = dtype;
  return train::LoadCausalLm(model_dir, options);
}

}  // namespace

// The verdict on a miner's checkpoint and, when it counts, its loss (RunEval with --submission).
int EvalSubmission(const EvalArgs& args, at::ScalarType dtype, const std::vector<text::TokenizedExample>& examples,
                   std::ostream& out, std::ostream& err) {
  if (!args.adapter.empty()) {
    return Fail(err, "eval", common::Status::InvalidArgument("--adapter and --submission exclude each other"));
  }
  common::Result<c10::Device> device = train::ResolveComputeDevice(args.device);
  if (!device.ok()) return Fail(err, "eval", device.status());
  if (device->is_cpu()) train::ConfigureCpuThreads(args.threads);
  train::ModelLoadOptions options;
  options.device = *device;
  options.dtype = dtype;
  common::Result<train::CheckedSubmission> checked =
      train::LoadSubmission(args.model, args.submission,
                     args.submission_kind == "full" ? train::SubmissionKind::kFullModel : train::SubmissionKind::kLoraAdapter, options);
  if (!checked.ok()) return Fail(err, "eval", checked.status());
  if (checked->verdict != train::SubmissionVerdict::kValid) {
    out << nlohmann::json{{"status", train::SubmissionVerdictName(checked->verdict)}, {"reason", checked->reason}}.dump()
        << "\n";
    return 0;
  }
  train::EvalOptions eval_options;
  eval_options.max_batch_tokens = args.batch_tokens;
  common::Result<train::EvalResult> result = train::EvaluateLoss(*checked->model, examples, eval_options);
  if (!result.ok()) return Fail(err, "eval", result.status());
  if (!std::isfinite(result->loss)) {
    out << nlohmann::json{{"status", "invalid"}, {"reason", "the loss on the test split is not finite"}}.dump() << "\n";
    return 0;
  }
  out << nlohmann::json{{"status", "scored"},
                        {"loss", result->loss},
                        {"tokens", result->tokens},
                        {"documents", result->documents}}
             .dump()
      << "\n";
  return 0;
}

int RunEval(const EvalArgs& args, std::ostream& out, std::ostream& err) {
  // Flags are checked before the tokenizer, the dataset and the model are read.
  common::Result<at::ScalarType> dtype = ParseDtype(args.dtype);
  if (!dtype.ok()) return Fail(err, "eval", dtype.status());
  if (!args.submission.empty() && args.submission_kind != "lora" && args.submission_kind != "full") {
    return Fail(err, "eval", common::Status::InvalidArgument("--submission-kind must be lora or full"));
  }
  common::Result<text::DatasetOptions> options = DatasetOptionsFromFlags(args.format, args.columns, args.field, args.max_length);
  if (!options.ok()) return Fail(err, "eval", options.status());
  common::Result<std::unique_ptr<text::Tokenizer>> tokenizer = text::LoadTokenizer(args.model);
  if (!tokenizer.ok()) return Fail(err, "eval", tokenizer.status());
  common::Result<std::vector<text::TokenizedExample>> examples = text::LoadTokenizedDataset(args.data, **tokenizer, *options);
  if (!examples.ok()) return Fail(err, "eval", examples.status());
  if (!args.submission.empty()) return EvalSubmission(args, *dtype, *examples, out, err);
  common::Result<train::CausalLm> model = LoadOnDevice(args.model, args.adapter, args.device, *dtype, args.threads);
  if (!model.ok()) return Fail(err, "eval", model.status());
  train::EvalOptions eval_options;
  eval_options.max_batch_tokens = args.batch_tokens;
  common::Result<train::EvalResult> result = train::EvaluateLoss(*model, *examples, eval_options);
  if (!result.ok()) return Fail(err, "eval", result.status());
  out << nlohmann::json{{"loss", result->loss}, {"tokens", result->tokens}, {"documents", result->documents}}.dump()
      << "\n";
  return 0;
}

int RunGenerate(const GenerateArgs& args, std::ostream& out, std::ostream& err) {
  common::Result<std::unique_ptr<text::Tokenizer>> tokenizer = text::LoadTokenizer(args.model);
  if (!tokenizer.ok()) return Fail(err, "generate", tokenizer.status());
  common::Result<train::CausalLm> model = LoadOnDevice(args.model, args.adapter, args.device);
  if (!model.ok()) return Fail(err, "generate", model.status());
  train::GenerateOptions options;
  options.max_new_tokens = args.max_new_tokens;
  options.temperature = args.temperature;
  options.top_p = args.top_p;
  options.seed = args.seed;
  if (auto eos = (*tokenizer)->eos_id(); eos && (*model)->config().eos_token_ids.empty()) options.stop_ids = {*eos};
  std::vector<int32_t> prompt = (*tokenizer)->Encode(args.prompt, /*add_special_tokens=*/true);
  common::Result<std::vector<int32_t>> generated = train::Generate(*model, prompt, options);
  if (!generated.ok()) return Fail(err, "generate", generated.status());
  out << (*tokenizer)->Decode(*generated, /*skip_special_tokens=*/true) << "\n";
  return 0;
}

int RunInitModel(const InitModelArgs& args, std::ostream& out, std::ostream& err) {
  train::InitModelOptions options;
  options.preset = args.preset;
  options.seed = args.seed;
  if (!args.tokenizer.empty()) options.tokenizer = args.tokenizer;
  common::Result<at::ScalarType> dtype = ParseDtype(args.dtype);
  if (!dtype.ok()) return Fail(err, "init-model", dtype.status());
  options.dtype = *dtype;
  if (common::Status status = train::InitModel(args.out, options); !status.ok()) return Fail(err, "init-model", status);
  common::Result<train::ModelConfig> config = train::LoadModelConfig(args.out);
  if (!config.ok()) return Fail(err, "init-model", config.status());
  out << nlohmann::json{{"out", args.out.string()},
                        {"preset", args.preset},
                        {"parameters", config->ParameterCount()},
                        {"vocab_size", config->vocab_size}}
             .dump()
      << "\n";
  return 0;
}

void AddModelCommands(CLI::App& app) {
  auto eval_args = std::make_shared<EvalArgs>();
  CLI::App* eval = app.add_subcommand("eval", "Mean next-token loss of a model on a dataset; prints JSON");
  eval->add_option("--model", eval_args->model, "Hugging Face model directory (config.json, safetensors, tokenizer)")
      ->required();
  eval->add_option("--adapter", eval_args->adapter, "PEFT LoRA adapter directory, merged into the model");
  eval->add_option("--data", eval_args->data, "Dataset file (.jsonl or .csv)")->required();
  eval->add_option("--format", eval_args->format, "text, instruct or chat")->capture_default_str();
  eval->add_option("--field", eval_args->field, "Text format: the column holding the text (default: text)");
  eval->add_option("--columns", eval_args->columns, "Role to column mapping, e.g. instruction=q,output=a");
  eval->add_option("--max-len", eval_args->max_length, "Tokens per document; longer ones are truncated")
      ->capture_default_str();
  eval->add_option("--device", eval_args->device, "auto (a GPU when present), cpu, cuda or cuda:N")
      ->capture_default_str();
  eval->add_option("--dtype", eval_args->dtype, "Compute dtype: float32 or bfloat16")->capture_default_str();
  eval->add_option("--batch-tokens", eval_args->batch_tokens, "Padded tokens per forward pass")->capture_default_str();
  eval->add_option("--submission", eval_args->submission,
                   "A miner's checkpoint to judge against --model as its base, then evaluate (prints a verdict)");
  eval->add_option("--submission-kind", eval_args->submission_kind, "lora (a PEFT adapter) or full (a model directory)");
  eval->add_option("--threads", eval_args->threads, "CPU threads (0: chosen for the machine)")->capture_default_str();
  eval->callback([eval_args] { ExitWith(RunEval(*eval_args, std::cout, std::cerr)); });

  auto generate_args = std::make_shared<GenerateArgs>();
  CLI::App* generate = app.add_subcommand("generate", "Continue a prompt with a model (KV cache; greedy or sampled)");
  generate->add_option("--model", generate_args->model, "Hugging Face model directory")->required();
  generate->add_option("--adapter", generate_args->adapter, "PEFT LoRA adapter directory, merged into the model");
  generate->add_option("--prompt", generate_args->prompt, "The text to continue")->required();
  generate->add_option("--max-new", generate_args->max_new_tokens, "Most tokens to generate")->capture_default_str();
  generate->add_option("--temperature", generate_args->temperature, "0 for greedy decoding")->capture_default_str();
  generate->add_option("--top-p", generate_args->top_p, "Nucleus sampling mass")->capture_default_str();
  generate->add_option("--seed", generate_args->seed, "Sampling seed")->capture_default_str();
  generate->add_option("--device", generate_args->device, "auto (a GPU when present), cpu, cuda or cuda:N")
      ->capture_default_str();
  generate->callback([generate_args] { ExitWith(RunGenerate(*generate_args, std::cout, std::cerr)); });

  auto init_args = std::make_shared<InitModelArgs>();
  CLI::App* init_model =
      app.add_subcommand("init-model",
                         "Write a randomly initialised model in Hugging Face layout (presets: tiny, small, base, "
                         "tinyllama-1.1b)");
  init_model->add_option("--preset", init_args->preset, "Model shape")->capture_default_str();
  init_model->add_option("--out", init_args->out, "Output directory")->required();
  init_model->add_option("--tokenizer", init_args->tokenizer,
                         "tokenizer.json, tokenizer.model or a directory; sets the vocabulary and is copied");
  init_model->add_option("--seed", init_args->seed, "Initialisation seed")->capture_default_str();
  init_model->add_option("--dtype", init_args->dtype, "float32 or bfloat16")->capture_default_str();
  init_model->callback([init_args] { ExitWith(RunInitModel(*init_args, std::cout, std::cerr)); });
}

}  // namespace gradients::cli
