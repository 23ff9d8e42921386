#include "cli/merge_command.h"

#include <iostream>
#include <memory>

#include <nlohmann/json.hpp>

#include "cli/command_failure.h"
#include "cli/dtype_flag.h"
#include "common/durable_file.h"
#include "trainers/model_loader.h"

namespace gradients::cli {
namespace {

// The absolute --out, refused when something is there already (an empty directory is fine: the
// rename that publishes the merge replaces it).
common::Result<std::filesystem::path> CheckOutDir(const std::filesystem::path& requested) {
  if (requested.empty()) return common::Status::InvalidArgument("--out is required");
  std::filesystem::path out = std::filesystem::absolute(requested).lexically_normal();
  if (!out.has_filename()) out = out.parent_path();  // "dir/"
  std::error_code ec;
  const std::filesystem::file_status status = std::filesystem::symlink_status(out, ec);
  if (!std::filesystem::exists(status)) return out;
  if (!std::filesystem::is_directory(status) || !std::filesystem::is_empty(out, ec) || ec) {
    return common::Status::InvalidArgument("--out " + requested.string() +
                                   " exists and is not an empty directory; refusing to overwrite it");
  }
  return out;
}

common::Status WriteMergedModel(const MergeArgs& args, at::ScalarType dtype, const std::filesystem::path& dir) {
  if (args.adapter.empty() || !std::filesystem::is_directory(args.adapter)) {
    return common::Status::NotFound("--adapter " + args.adapter.string() + ": no such directory");
  }
  // Merged in float32 whatever the output dtype, as `gradients eval --adapter` merges.
  GRADIENTS_ASSIGN_OR_RETURN(train::CausalLm model, train::LoadCausalLm(args.model, {.adapter = args.adapter}));
  GRADIENTS_RETURN_IF_ERROR(train::SaveCausalLm(model, dir, train::ModelSaveOptions{.dtype = dtype}));
  return train::CopyTokenizerFiles(args.model, dir);
}

// rename(2) replaces a missing or empty directory in one step; the parent's fsync makes it last.
common::Status Publish(const std::filesystem::path& partial, const std::filesystem::path& out) {
  std::error_code ec;
  std::filesystem::rename(partial, out, ec);
  if (ec) return common::Status::IoError("renaming " + partial.string() + " to " + out.string() + ": " + ec.message());
  return common::SyncDirectory(out.parent_path());
}

}  // namespace

int RunMerge(const MergeArgs& args, std::ostream& out, std::ostream& err) {
  common::Result<at::ScalarType> dtype = ParseDtype(args.dtype);
  if (!dtype.ok()) return Fail(err, "merge", dtype.status());
  common::Result<std::filesystem::path> out_dir = CheckOutDir(args.out);
  if (!out_dir.ok()) return Fail(err, "merge", out_dir.status());
  const std::filesystem::path partial = out_dir->string() + ".partial";
  if (common::Status removed = common::RemoveTree(partial); !removed.ok()) return Fail(err, "merge", removed);
  common::Status written;
  try {
    written = WriteMergedModel(args, *dtype, partial);
  } catch (const std::exception& error) {
    // libtorch (out of memory above all) and the file system report some failures as exceptions.
    written = common::Status::Internal(std::string("merging failed: ") + error.what());
  }
  if (written.ok()) written = Publish(partial, *out_dir);
  if (!written.ok()) {
    (void)common::RemoveTree(partial);  // the error that matters is `written`
    return Fail(err, "merge", written);
  }
  common::Result<train::ModelConfig> config = train::LoadModelConfig(*out_dir);
  if (!config.ok()) return Fail(err, "merge", config.status());
  out << nlohmann::json{{"out", out_dir->string()}, {"dtype", args.dtype}, {"parameters", config->ParameterCount()}}
             .dump()
      << "\n";
  return 0;
}

void AddMergeCommand(CLI::App& app) {
  auto args = std::make_shared<MergeArgs>();
  CLI::App* merge = app.add_subcommand(
      "merge", "Merge a LoRA adapter into its base model; writes a full model in Hugging Face layout");
  merge->add_option("--model", args->model, "Base model directory")->required();
  merge->add_option("--adapter", args->adapter, "PEFT LoRA adapter directory")->required();
  merge->add_option("--out", args->out, "Output directory; must not exist or be empty")->required();
  merge->add_option("--dtype", args->dtype, "float32 or bfloat16")->capture_default_str();
  merge->callback([args] { ExitWith(RunMerge(*args, std::cout, std::cerr)); });
}

}  // namespace gradients::cli
