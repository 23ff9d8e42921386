#include "trainers/train_checkpoint.h"

#include <system_error>

#include "common/durable_file.h"
#include "common/safetensors.h"
#include "common/strict_json.h"
#include "trainers/tensor_io.h"

namespace gradients::train {
namespace {

constexpr int kFormatVersion = 1;
constexpr uint64_t kMaxStateBytes = 16 << 20;

std::filesystem::path Sibling(const std::filesystem::path& dir, const char* suffix) {
  return dir.parent_path() / (dir.filename().string() + suffix);
}

nlohmann::json StateJson(const TrainState& state) {
  nlohmann::json json = {{"version", kFormatVersion},
                         {"step", state.step},
                         {"micro_batches", state.micro_batches},
                         {"tokens", state.tokens},
                         {"generator_state", state.generator_state},
                         {"best_validation_loss", nullptr},
                         {"best_step", state.best_step},
                         {"evaluations_without_improvement", state.evaluations_without_improvement},
                         {"hyperparameters", state.hyperparameters},
                         {"data_digest", state.data_digest},
                         {"model_fingerprint", state.model_fingerprint}};
  if (state.best_validation_loss) json["best_validation_loss"] = *state.best_validation_loss;
  return json;
}

common::Result<TrainState> ParseState(const std::filesystem::path& path) {
  GRADIENTS_ASSIGN_OR_RETURN(std::string text, common::ReadFileToString(path, kMaxStateBytes));
  GRADIENTS_ASSIGN_OR_RETURN(nlohmann::json json, common::ParseStrictJson(text));
  TrainState state;
  try {
    if (json.at("version").get<int>() != kFormatVersion) {
      return common::Status::InvalidArgument(path.string() + ": unsupported checkpoint version " + json.at("version").dump());
    }
    state.step = json.at("step").get<int64_t>();
    state.micro_batches = json.at("micro_batches").get<int64_t>();
    state.tokens = json.at("tokens").get<int64_t>();
    state.generator_state = json.at("generator_state").get<std::string>();
    if (!json.at("best_validation_loss").is_null()) {
      state.best_validation_loss = json.at("best_validation_loss").get<double>();
    }
    state.best_step = json.at("best_step").get<int64_t>();
    state.evaluations_without_improvement = json.at("evaluations_without_improvement").get<int64_t>();
    state.hyperparameters = json.at("hyperparameters");
    state.data_digest = json.at("data_digest").get<std::string>();
    state.model_fingerprint = json.at("model_fingerprint").get<std::string>();
  } catch (const nlohmann::json::exception& error) {
    return common::Status::InvalidArgument(path.string() + ": " + error.what());
  }
  if (state.step < 0 || state.micro_batches < 0 || state.tokens < 0) {
    return common::Status::InvalidArgument(path.string() + ": negative counters");
  }
  return state;
}

}  // namespace

common::Status WriteTensorFile(const std::filesystem::path& path, const NamedTensors& tensors) {
  common::SafetensorsWriter writer;
  for (const auto& [name, tensor] : tensors) GRADIENTS_RETURN_IF_ERROR(AddTensor(writer, name, tensor));
  return writer.WriteFile(path);
}

common::Result<NamedTensors> ReadTensorFile(const std::filesystem::path& path) {
  GRADIENTS_ASSIGN_OR_RETURN(common::SafetensorsFile file, common::SafetensorsFile::Open(path));
  NamedTensors tensors;
  for (const common::SafetensorsTensor& entry : file.header().tensors) {
    GRADIENTS_ASSIGN_OR_RETURN(at::Tensor view, WeightView(file, entry));
    tensors[entry.name] = view.clone();
  }
  return tensors;
}

common::Status SaveTrainCheckpoint(const std::filesystem::path& dir, const TrainCheckpoint& checkpoint) {
  const std::filesystem::path fresh = Sibling(dir, ".new"), previous = Sibling(dir, ".old");
  std::error_code error;
  // A complete checkpoint must exist under one of the three names at every moment. When an earlier
  // save stopped half-way, `dir` may be missing: keep whichever of .new and .old LoadTrainCheckpoint
  // would pick as `dir` before clearing the others.
  if (!std::filesystem::exists(dir / "state.json", error)) {
    for (const std::filesystem::path& candidate : {fresh, previous}) {
      if (!std::filesystem::exists(candidate / "state.json", error)) continue;
      GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(dir));
      std::filesystem::rename(candidate, dir, error);
      if (error) return common::Status::IoError("renaming " + candidate.string() + ": " + error.message());
      break;
    }
  }
  GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(fresh));
  std::filesystem::create_directories(fresh, error);
  if (error) return common::Status::IoError("creating " + fresh.string() + ": " + error.message());
  GRADIENTS_RETURN_IF_ERROR(WriteTensorFile(fresh / "trainable.safetensors", checkpoint.trainable));
  GRADIENTS_RETURN_IF_ERROR(WriteTensorFile(fresh / "optimizer.safetensors", checkpoint.optimizer));
  if (!checkpoint.best.empty()) GRADIENTS_RETURN_IF_ERROR(WriteTensorFile(fresh / "best.safetensors", checkpoint.best));
  GRADIENTS_RETURN_IF_ERROR(common::WriteFileDurably(fresh / "state.json", StateJson(checkpoint.state).dump(1) + "\n"));
  GRADIENTS_RETURN_IF_ERROR(common::SyncDirectory(fresh));
  // dir -> dir.old, dir.new -> dir, then drop dir.old.
  GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(previous));
  if (std::filesystem::exists(dir, error)) {
    std::filesystem::rename(dir, previous, error);
    if (error) return common::Status::IoError("renaming " + dir.string() + ": " + error.message());
  }
  std::filesystem::rename(fresh, dir, error);
  if (error) return common::Status::IoError("renaming " + fresh.string() + ": " + error.message());
  GRADIENTS_RETURN_IF_ERROR(common::SyncDirectory(dir.parent_path()));
  return common::RemoveTree(previous);
}

common::Result<TrainCheckpoint> LoadTrainCheckpoint(const std::filesystem::path& requested) {
  std::filesystem::path dir;
  std::error_code error;
  for (const std::filesystem::path& candidate : {requested, Sibling(requested, ".new"), Sibling(requested, ".old")}) {
    if (std::filesystem::exists(candidate / "state.json", error)) {
      dir = candidate;
      break;
    }
  }
  if (dir.empty()) return common::Status::NotFound("no checkpoint in " + requested.string());
  TrainCheckpoint checkpoint;
  GRADIENTS_ASSIGN_OR_RETURN(checkpoint.state, ParseState(dir / "state.json"));
  GRADIENTS_ASSIGN_OR_RETURN(checkpoint.trainable, ReadTensorFile(dir / "trainable.safetensors"));
  GRADIENTS_ASSIGN_OR_RETURN(checkpoint.optimizer, ReadTensorFile(dir / "optimizer.safetensors"));
  if (std::filesystem::exists(dir / "best.safetensors", error)) {
    GRADIENTS_ASSIGN_OR_RETURN(checkpoint.best, ReadTensorFile(dir / "best.safetensors"));
  }
  return checkpoint;
}

}  // namespace gradients::train
