#include "trainers/model_loader.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <utility>
#include <vector>

#include <torch/types.h>
#include <torch/utils.h>

#include "common/config.h"
#include "common/durable_file.h"
#include "common/safetensors.h"
#include "common/strict_json.h"
#include "trainers/lora_adapter.h"
#include "trainers/tensor_io.h"

namespace gradients::train {
namespace {

constexpr const char* kIndexFileName = "model.safetensors.index.json";

std::string ShapeText(const std::vector<int64_t>& shape) {
  std::string out = "[";
  for (size_t i = 0; i < shape.size(); ++i) out += (i ? "," : "") + std::to_string(shape[i]);
  return out + "]";
}

// Shard file names come from a downloaded index: plain names in the model directory only.
common::Status CheckShardName(const std::string& name) {
  if (name.empty() || name.find('/') != std::string::npos || name == "." || name == ".." ||
      !name.ends_with(".safetensors")) {
    return common::Status::InvalidArgument("weight_map: shard name \"" + name.substr(0, 80) +
                                   "\" must be a .safetensors file name in the model directory");
  }
  return common::Status::Ok();
}

// Which file holds each tensor: the index's weight_map, or the single model.safetensors.
common::Result<std::map<std::string, std::vector<std::string>>> ShardTensors(const std::filesystem::path& model_dir) {
  std::map<std::string, std::vector<std::string>> shards;  // file -> tensor names it must hold
  std::filesystem::path index_path = model_dir / kIndexFileName;
  if (!std::filesystem::exists(index_path)) {
    if (!std::filesystem::exists(model_dir / "model.safetensors")) {
      return common::Status::NotFound(model_dir.string() + ": neither model.safetensors nor model.safetensors.index.json");
    }
    shards["model.safetensors"] = {};
    return shards;
  }
  GRADIENTS_ASSIGN_OR_RETURN(nlohmann::json index, common::ReadJsonFile(index_path));
  auto weight_map = index.find("weight_map");
  if (!index.is_object() || weight_map == index.end() || !weight_map->is_object()) {
    return common::Status::InvalidArgument(index_path.string() + ": weight_map: expected an object of tensor to file");
  }
  for (const auto& [tensor, file] : weight_map->items()) {
    if (!file.is_string()) {
      return common::Status::InvalidArgument(index_path.string() + ": weight_map \"" + tensor + "\": expected a file name");
    }
    common::Status name_ok = CheckShardName(file.get<std::string>());
    if (!name_ok.ok()) return name_ok.WithContext(index_path.string());
    shards[file.get<std::string>()].push_back(tensor);
  }
  return shards;
}

constexpr const char* kTokenizerFileNames[] = {
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model",     "vocab.json",
    "merges.txt",     "added_tokens.json",     "generation_config.json",  "chat_template.jinja"};

// The parameters one safetensors file of a save holds, and their bytes in the saved dtype.
struct Shard {
  std::vector<std::pair<std::string, at::Tensor>> tensors;
  uint64_t bytes = 0;
};

// huggingface_hub's split_state_dict_into_shards, which save_pretrained uses: greedy in the state
// dict's order (our parameter order is transformers' module order); a tensor above the limit is
// put in a shard of its own right away, ahead of the shard still being filled.
std::vector<Shard> PlanShards(CausalLm& model, at::ScalarType dtype, uint64_t max_shard_bytes) {
  std::vector<Shard> shards;
  Shard current;
  for (const auto& item : model->named_parameters()) {
    const uint64_t bytes = static_cast<uint64_t>(item.value().numel()) * at::elementSize(dtype);
    if (bytes > max_shard_bytes) {
      shards.push_back(Shard{.tensors = {{item.key(), item.value()}}, .bytes = bytes});
      continue;
    }
    if (current.bytes + bytes > max_shard_bytes) shards.push_back(std::exchange(current, Shard{}));
    current.tensors.emplace_back(item.key(), item.value());
    current.bytes += bytes;
  }
  if (!current.tensors.empty()) shards.push_back(std::move(current));
  return shards;
}

// "model-00002-of-00005.safetensors" for index 1 of 5.
std::string ShardFileName(size_t index, size_t count) {
  char name[64];
  std::snprintf(name, sizeof(name), "model-%05zu-of-%05zu.safetensors", index + 1, count);
  return name;
}

bool IsWeightFileName(const std::string& name) {
  static const std::regex shard(R"(model-\d{5}-of-\d{5}\.safetensors)");
  return name == "model.safetensors" || name == kIndexFileName || std::regex_match(name, shard);
}

// Removed only after the new files are in place: until the single file or the index that replaces
// them is written, the old set still loads.
common::Status RemoveStaleWeightFiles(const std::filesystem::path& model_dir, const std::set<std::string>& written) {
  std::error_code ec;
  std::vector<std::filesystem::path> stale;
  for (std::filesystem::directory_iterator it(model_dir, ec); !ec && it != std::filesystem::directory_iterator();
       it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (IsWeightFileName(name) && !written.contains(name)) stale.push_back(it->path());
  }
  if (ec) return common::Status::IoError("listing " + model_dir.string() + ": " + ec.message());
  if (stale.empty()) return common::Status::Ok();
  // The index first: without it the loader reads model.safetensors, which is new when it exists.
  std::partition(stale.begin(), stale.end(), [](const auto& path) { return path.filename() == kIndexFileName; });
  for (const auto& path : stale) GRADIENTS_RETURN_IF_ERROR(common::RemoveTree(path));
  return common::SyncDirectory(model_dir);
}

common::Status CopyFileDurably(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::ifstream in(from, std::ios::binary);
  if (!in) return common::Status::IoError("opening " + from.string() + ": " + std::strerror(errno));
  GRADIENTS_ASSIGN_OR_RETURN(common::DurableFileWriter out, common::DurableFileWriter::Create(to));
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    GRADIENTS_RETURN_IF_ERROR(out.Append(std::string_view(buffer.data(), static_cast<size_t>(in.gcount()))));
  }
  if (in.bad()) return common::Status::IoError("reading " + from.string());
  return out.Commit();
}

}  // namespace

std::map<std::string, at::Tensor> NamedWeights(CausalLm& model) {
  std::map<std::string, at::Tensor> out;
  for (const auto& item : model->named_parameters()) out[item.key()] = item.value();
  return out;
}

common::Status LoadModelWeights(CausalLm& model, const std::filesystem::path& model_dir) {
  std::map<std::string, at::Tensor> expected = NamedWeights(model);
  GRADIENTS_ASSIGN_OR_RETURN(auto shards, ShardTensors(model_dir));
  const bool single_file = shards.size() == 1 && shards.begin()->second.empty();
  std::set<std::string> loaded;
  torch::NoGradGuard no_grad;
  for (const auto& [file_name, listed] : shards) {
    std::filesystem::path path = model_dir / file_name;
    GRADIENTS_ASSIGN_OR_RETURN(common::SafetensorsFile file, common::SafetensorsFile::Open(path));
    std::set<std::string> listed_set(listed.begin(), listed.end());
    for (const common::SafetensorsTensor& tensor : file.header().tensors) {
      const std::string& name = tensor.name;
      if (!single_file && !listed_set.erase(name)) {
        return common::Status::InvalidArgument(path.string() + ": tensor \"" + name + "\" is not listed for this shard in " +
                                       "model.safetensors.index.json");
      }
      // transformers writes no lm_head for tied embeddings, but older checkpoints carry a copy: ignore it.
      if (name == "lm_head.weight" && model->config().tie_word_embeddings) continue;
      auto target = expected.find(name);
      if (target == expected.end()) {
        return common::Status::InvalidArgument(path.string() + ": unexpected tensor \"" + name + "\" for this config");
      }
      if (!loaded.insert(name).second) {
        return common::Status::InvalidArgument(path.string() + ": tensor \"" + name + "\" appears in more than one shard");
      }
      std::vector<int64_t> shape(tensor.shape.begin(), tensor.shape.end());
      if (shape != target->second.sizes().vec()) {
        return common::Status::InvalidArgument(path.string() + ": tensor \"" + name + "\" has shape " + ShapeText(shape) +
                                       ", the config needs " + ShapeText(target->second.sizes().vec()));
      }
      common::Result<at::Tensor> source = WeightView(file, tensor);
      if (!source.ok()) return source.status().WithContext(path.string());
      target->second.copy_(*source);
    }
    if (!listed_set.empty()) {
      return common::Status::InvalidArgument(path.string() + ": tensor \"" + *listed_set.begin() +
                                     "\" is listed in the index but missing from the shard");
    }
  }
  for (const auto& [name, parameter] : expected) {
    if (!loaded.contains(name)) {
      return common::Status::InvalidArgument(model_dir.string() + ": missing tensor \"" + name + "\" (and " +
                                     std::to_string(expected.size() - loaded.size() - 1) + " more)");
    }
  }
  return common::Status::Ok();
}

common::Result<CausalLm> LoadCausalLm(const std::filesystem::path& model_dir, const ModelLoadOptions& options) {
  GRADIENTS_ASSIGN_OR_RETURN(ModelConfig config, LoadModelConfig(model_dir));
  CausalLm model(config);
  GRADIENTS_RETURN_IF_ERROR(LoadModelWeights(model, model_dir));
  if (!options.adapter.empty()) {
    GRADIENTS_ASSIGN_OR_RETURN(LoraAdapter adapter, LoadLoraAdapter(options.adapter));
    common::Status merged = MergeLoraAdapter(model, adapter);
    if (!merged.ok()) return merged.WithContext(options.adapter.string());
  }
  model->to(options.device, options.dtype);
  model->eval();
  return model;
}

common::Status SaveCausalLm(CausalLm& model, const std::filesystem::path& model_dir, const ModelSaveOptions& options) {
  std::error_code ec;
  std::filesystem::create_directories(model_dir, ec);
  if (ec) return common::Status::IoError("creating " + model_dir.string() + ": " + ec.message());
  const std::vector<Shard> shards = PlanShards(model, options.dtype, options.max_shard_bytes);
  std::set<std::string> written;
  nlohmann::json weight_map = nlohmann::json::object();
  uint64_t total_size = 0;
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string file_name = shards.size() == 1 ? "model.safetensors" : ShardFileName(i, shards.size());
    // One shard's copy in memory at a time, not the whole model's.
    common::SafetensorsWriter writer;
    for (const auto& [name, parameter] : shards[i].tensors) {
      GRADIENTS_RETURN_IF_ERROR(AddTensor(writer, name, parameter.to(options.dtype)));
      weight_map[name] = file_name;
    }
    writer.SetMetadata({{"format", "pt"}});
    GRADIENTS_RETURN_IF_ERROR(writer.WriteFile(model_dir / file_name));
    written.insert(file_name);
    total_size += shards[i].bytes;
  }
  if (shards.size() > 1) {
    nlohmann::json index = {{"metadata", {{"total_size", total_size}}}, {"weight_map", weight_map}};
    GRADIENTS_RETURN_IF_ERROR(common::WriteFileDurably(model_dir / kIndexFileName, index.dump(2) + "\n"));
    written.insert(kIndexFileName);
  }
  GRADIENTS_RETURN_IF_ERROR(RemoveStaleWeightFiles(model_dir, written));
  ModelConfig config = model->config();
  config.torch_dtype = options.dtype == at::kBFloat16 ? "bfloat16" : options.dtype == at::kHalf ? "float16" : "float32";
  return common::WriteFileDurably(model_dir / "config.json", config.ToJson().dump(2) + "\n");
}

common::Status SaveCausalLm(CausalLm& model, const std::filesystem::path& model_dir, at::ScalarType dtype) {
  return SaveCausalLm(model, model_dir, ModelSaveOptions{.dtype = dtype});
}

common::Status CopyTokenizerFiles(const std::filesystem::path& from_dir, const std::filesystem::path& to_dir) {
  std::error_code ec;
  std::filesystem::create_directories(to_dir, ec);
  if (ec) return common::Status::IoError("creating " + to_dir.string() + ": " + ec.message());
  for (const char* name : kTokenizerFileNames) {
    // Follows symbolic links: Hugging Face's cache links each file to a blob.
    if (!std::filesystem::is_regular_file(from_dir / name, ec)) continue;
    GRADIENTS_RETURN_IF_ERROR(CopyFileDurably(from_dir / name, to_dir / name));
  }
  return common::Status::Ok();
}

}  // namespace gradients::train
