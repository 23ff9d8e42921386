#include "trainers/model_loader.h"

#include <set>
#include <vector>

#include <torch/types.h>
#include <torch/utils.h>

#include "common/config.h"
#include "common/durable_file.h"
#include "common/safetensors.h"
#include "common/strict_json.h"
#include "trainers/lora_adapter.h"
#include "trainers/tensor_io.h"

namespace gradients {
namespace {

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "]";
}

// Shard file names come from a downloaded index: plain names in the model directory only.
Status CheckShardName(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == ".." ||
      !name.ends_with(".safetensors")) {
    return Status::InvalidArgument("weight_map: shard name \"" + name.substr(0, 80) +
                                   "\" must be a .safetensors file name in the model directory");
  }
  return Status::Ok();
}

// Which file holds each tensor: the index's weight_map, or the single model.safetensors.
Result<std::map<std::string, std::vector<std::string>>> ShardTensors(const std::filesystem::path& model_dir) {
  std::map<std::string, std::vector<std::string>> shards;  // file -> tensor names it must hold
  std::filesystem::path index_path = model_dir / "model.safetensors.index.json";
  if (!std::filesystem::exists(index_path)) {
    if (!std::filesystem::exists(model_dir / "model.safetensors")) {
      return Status::NotFound(model_dir.string() + ": neither model.safetensors nor model.safetensors.index.json");
    }
    shards["model.safetensors"] = {};
    return shards;
  }
  GRADIENTS_ASSIGN_OR_RETURN(nlohmann::json index, ReadJsonFile(index_path));
  auto weight_map = index.find("weight_map");
  if (!index.is_object() || weight_map == index.end() || !weight_map->is_object()) {
    return Status::InvalidArgument(index_path.string() + ": weight_map: expected an object of tensor to file");
  }
  for (const auto& [tensor, file] : weight_map->items()) {
    if (!file.is_string()) {
      return Status::InvalidArgument(index_path.string() + ": weight_map \"" + tensor + "\": expected a file name");
    }
    Status name_ok = CheckShardName(file.get<std::string>());
    if (!name_ok.ok()) return name_ok.WithContext(index_path.string());
    shards[file.get<std::string>()].push_back(tensor);
  }
  return shards;
}

}  // namespace

std::map<std::string, at::Tensor> NamedWeights(CausalLm& model) {
  std::map<std::string, at::Tensor> out;
  for (const auto& item : model->named_parameters()) out[item.key()] = item.value();
  return out;
}

Status LoadModelWeights(CausalLm& model, const std::filesystem::path& model_dir) {
  std::map<std::string, at::Tensor> expected = NamedWeights(model);
  GRADIENTS_ASSIGN_OR_RETURN(auto shards, ShardTensors(model_dir));
  const bool single_file = shards.size() == 1 && shards.begin()->second.empty();
  std::set<std::string> loaded;
  torch::NoGradGuard no_grad;
  for (const auto& [file_name, listed] : shards) {
    std::filesystem::path path = model_dir / file_name;
    GRADIENTS_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
    std::set<std::string> listed_set(listed.begin(), listed.end());
    for (const SafetensorsTensor& tensor : file.header().tensors) {
      const std::string& name = tensor.name;
      if (!single_file && !listed_set.erase(name)) {
        return Status::InvalidArgument(path.string() + ": tensor \"" + name + "\" is not listed for this shard in " +
                                       "model.safetensors.index.json");
      }
      // transformers writes no lm_head for tied embeddings, but older checkpoints carry a copy: ignore it.
      if (name == "lm_head.weight" && model->config().tie_word_embeddings) continue;
      auto target = expected.find(name);
      if (target == expected.end()) {
        return Status::InvalidArgument(path.string() + ": unexpected tensor \"" + name + "\" for this config");
      }
      if (!loaded.insert(name).second) {
        return Status::InvalidArgument(path.string() + ": tensor \"" + name + "\" appears in more than one shard");
      }
      std::vector<int64_t> shape(tensor.shape.begin(), tensor.shape.end());
      if (shape != target->second.sizes().vec()) {
        return Status::InvalidArgument(path.string() + ": tensor \"" + name + "\" has shape " + ShapeText(shape) +
                                       ", the config needs " + ShapeText(target->second.sizes().vec()));
      }
      Result<at::Tensor> source = WeightView(file, tensor);
      if (!source.ok()) return source.status().WithContext(path.string());
      target->second.copy_(*source);
    }
    if (!listed_set.empty()) {
      return Status::InvalidArgument(path.string() + ": tensor \"" + *listed_set.begin() +
                                     "\" is listed in the index but missing from the shard");
    }
  }
  for (const auto& [name, parameter] : expected) {
    if (!loaded.contains(name)) {
      return Status::InvalidArgument(model_dir.string() + ": missing tensor \"" + name + "\" (and " +
                                     std::to_string(expected.size() - loaded.size() - 1) + " more)");
    }
  }
  return Status::Ok();
}

Result<CausalLm> LoadCausalLm(const std::filesystem::path& model_dir, const ModelLoadOptions& options) {
  GRADIENTS_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(model_dir));
  CausalLm model(config);
  GRADIENTS_RETURN_IF_ERROR(LoadModelWeights(model, model_dir));
  if (!options.adapter.empty()) {
    GRADIENTS_ASSIGN_OR_RETURN(LoraAdapter adapter, LoadLoraAdapter(options.adapter));
    Status merged = MergeLoraAdapter(model, adapter);
    if (!merged.ok()) return merged.WithContext(options.adapter.string());
  }
  model->to(options.device, options.dtype);
  model->eval();
  return model;
}

Status SaveCausalLm(CausalLm& model, const std::filesystem::path& model_dir, at::ScalarType dtype) {
  std::error_code ec;
  std::filesystem::create_directories(model_dir, ec);
  if (ec) return Status::IoError("creating " + model_dir.string() + ": " + ec.message());
  SafetensorsWriter writer;
  for (const auto& [name, parameter] : NamedWeights(model)) {
    GRADIENTS_RETURN_IF_ERROR(AddTensor(writer, name, parameter.to(dtype)));
  }
  writer.SetMetadata({{"format", "pt"}});
  GRADIENTS_RETURN_IF_ERROR(writer.WriteFile(model_dir / "model.safetensors"));
  ModelConfig config = model->config();
  config.torch_dtype = dtype == at::kBFloat16 ? "bfloat16" : dtype == at::kHalf ? "float16" : "float32";
  return WriteFileDurably(model_dir / "config.json", config.ToJson().dump(2) + "\n");
}

}  // namespace gradients
