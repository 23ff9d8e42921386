// `gradients eval`, `gradients generate` and `gradients init-model`: the model subcommands.
// Each returns the process exit code; errors go to `err` as "gradients <command>: <message>".
#pragma once

#include <cstdint>
#include <filesystem>
#include <ostream>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace gradients::cli {

struct EvalArgs {
  std::filesystem::path model;
  std::filesystem::path adapter;  // a PEFT LoRA adapter directory merged into the model; empty: none
  std::filesystem::path data;
  std::string format = "text";
  std::string field;    // text format: the column holding the text
  std::string columns;  // "instruction=q,output=a"
  int64_t max_length = 2048;
  std::string device = "auto";
  std::string dtype = "float32";  // compute dtype: float32 (deterministic on CPU) or bfloat16
  int64_t batch_tokens = 2048;
  // A miner's checkpoint to judge and evaluate against `model` as its base (what the validator runs
  // in a child process): "lora" (a PEFT adapter) or "full" (a model directory).
  std::filesystem::path submission;
  std::string submission_kind;
  int threads = 0;  // CPU threads; 0: chosen for the machine. A fixed count keeps losses reproducible.
};
// Prints {"loss": L, "tokens": T, "documents": D}. With a submission it prints
// {"status": "scored", "loss": ...} or {"status": "invalid" | "not_finetuned", "reason": ...} and
// exits 0 whatever the verdict; a non-zero exit is the evaluator's own failure (its base model or
// data), never the submission's.
int RunEval(const EvalArgs& args, std::ostream& out, std::ostream& err);

struct GenerateArgs {
  std::filesystem::path model;
  std::filesystem::path adapter;
  std::string prompt;
  int64_t max_new_tokens = 64;
  double temperature = 0.0;
  double top_p = 1.0;
  uint64_t seed = 0;
  std::string device = "auto";
};
// Prints the generated continuation (the prompt is not repeated).
int RunGenerate(const GenerateArgs& args, std::ostream& out, std::ostream& err);

struct InitModelArgs {
  std::string preset = "tiny";
  std::filesystem::path out;
  std::filesystem::path tokenizer;  // empty: none
  uint64_t seed = 0;
  std::string dtype = "float32";
};
int RunInitModel(const InitModelArgs& args, std::ostream& out, std::ostream& err);

// Declares the three on `app`; each runs from its CLI11 callback and ends with its exit code.
void AddModelCommands(CLI::App& app);

}  // namespace gradients::cli
