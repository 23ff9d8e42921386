// `gradients merge`: a LoRA adapter merged into its base model and written as a full model in
// Hugging Face layout, which transformers loads without PEFT.
#pragma once

#include <filesystem>
#include <ostream>
#include <string>

namespace CLI {
class App;
}  // namespace CLI

namespace gradients::cli {

struct MergeArgs {
  std::filesystem::path model;    // the base model directory
  std::filesystem::path adapter;  // a PEFT LoRA adapter directory for that model
  std::filesystem::path out;      // must not exist or be an empty directory: merge never overwrites
  std::string dtype = "float32";  // the merged weights' dtype: float32 or bfloat16
};

// Writes config.json, the weights (base + scale * B A; sharded above transformers' 5 GB default)
// and the base model's tokenizer files. They are written into "<out>.partial" (a leftover of an
// interrupted merge there is removed first) and renamed to `out` at the end, so `out` holds the
// whole merged model or nothing. Prints {"out": DIR, "dtype": D, "parameters": N}; returns 0, or 1
// with "gradients merge: <message>" on `err`.
int RunMerge(const MergeArgs& args, std::ostream& out, std::ostream& err);

// Declares `gradients merge` on `app`; it runs from its CLI11 callback and ends with its exit code.
void AddMergeCommand(CLI::App& app);

}  // namespace gradients::cli
