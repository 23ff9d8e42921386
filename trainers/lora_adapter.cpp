#include "trainers/lora_adapter.h"

#include <algorithm>
#include <cmath>

#include <torch/types.h>

#include "common/config.h"
#include "common/durable_file.h"
#include "common/safetensors.h"
#include "common/strict_json.h"
#include "trainers/tensor_io.h"

namespace gradients::train {
namespace {

constexpr std::string_view kKeyPrefix = "base_model.model.";

common::Status RequireAbsentOrEmpty(const nlohmann::json& config, const char* key, const char* what) {
  auto it = config.find(key);
  if (it == config.end() || it->is_null() || (it->is_boolean() && !it->get<bool>()) ||
      ((it->is_object() || it->is_array()) && it->empty())) {
    return common::Status::Ok();
  }
  return common::Status::InvalidArgument(std::string(key) + ": " + what + " is not supported, got " + common::JsonSnippet(*it));
}

common::Result<LoraAdapterConfig> ParseAdapterConfig(const nlohmann::json& json) {
  if (!json.is_object()) return common::Status::InvalidArgument("expected a JSON object");
  auto peft_type = json.find("peft_type");
  if (peft_type == json.end() || *peft_type != "LORA") {
    return common::Status::InvalidArgument("peft_type: expected \"LORA\", got " +
                                   (peft_type == json.end() ? std::string("nothing") : common::JsonSnippet(*peft_type)));
  }
  LoraAdapterConfig config;
  auto r = json.find("r");
  if (r == json.end() || !r->is_number_integer() || r->get<int64_t>() < 1 || r->get<int64_t>() > 65536) {
    return common::Status::InvalidArgument("r: expected a positive integer");
  }
  config.r = r->get<int64_t>();
  auto alpha = json.find("lora_alpha");
  if (alpha == json.end() || !alpha->is_number() || !std::isfinite(alpha->get<double>())) {
    return common::Status::InvalidArgument("lora_alpha: expected a number");
  }
  config.lora_alpha = alpha->get<double>();
  if (auto dropout = json.find("lora_dropout"); dropout != json.end() && dropout->is_number()) {
    config.lora_dropout = dropout->get<double>();
  }
  if (auto rslora = json.find("use_rslora"); rslora != json.end() && !rslora->is_null()) {
    if (!rslora->is_boolean()) return common::Status::InvalidArgument("use_rslora: expected true or false");
    config.use_rslora = rslora->get<bool>();
  }
  auto targets = json.find("target_modules");
  if (targets == json.end() || !targets->is_array() || targets->empty()) {
    return common::Status::InvalidArgument("target_modules: expected a non-empty list of module names");
  }
  for (const auto& target : *targets) {
    if (!target.is_string()) return common::Status::InvalidArgument("target_modules: expected module names");
    config.target_modules.push_back(target.get<std::string>());
  }
  if (auto base = json.find("base_model_name_or_path"); base != json.end() && base->is_string()) {
    config.base_model_name_or_path = base->get<std::string>();
  }
  GRADIENTS_RETURN_IF_ERROR(RequireAbsentOrEmpty(json, "fan_in_fan_out", "transposed weights"));
  GRADIENTS_RETURN_IF_ERROR(RequireAbsentOrEmpty(json, "use_dora", "DoRA"));
  GRADIENTS_RETURN_IF_ERROR(RequireAbsentOrEmpty(json, "modules_to_save", "saving whole modules"));
  GRADIENTS_RETURN_IF_ERROR(RequireAbsentOrEmpty(json, "layers_to_transform", "a layer subset"));
  GRADIENTS_RETURN_IF_ERROR(RequireAbsentOrEmpty(json, "rank_pattern", "a per-module rank"));
  GRADIENTS_RETURN_IF_ERROR(RequireAbsentOrEmpty(json, "alpha_pattern", "a per-module alpha"));
  GRADIENTS_RETURN_IF_ERROR(RequireAbsentOrEmpty(json, "lora_bias", "a LoRA bias"));
  GRADIENTS_RETURN_IF_ERROR(RequireAbsentOrEmpty(json, "trainable_token_indices", "training token embeddings"));
  if (auto bias = json.find("bias"); bias != json.end() && *bias != "none") {
    return common::Status::InvalidArgument("bias: only \"none\" is supported, got " + common::JsonSnippet(*bias));
  }
  return config;
}

// What LoadLoraAdapter would refuse, refused before anything is written.
common::Status CheckSavable(const LoraAdapter& adapter) {
  const LoraAdapterConfig& config = adapter.config;
  if (config.r < 1 || config.r > 65536) return common::Status::InvalidArgument("r: expected a positive integer");
  if (!std::isfinite(config.lora_alpha)) return common::Status::InvalidArgument("lora_alpha: expected a finite number");
  if (config.target_modules.empty()) return common::Status::InvalidArgument("target_modules: expected at least one name");
  if (adapter.modules.empty()) return common::Status::InvalidArgument("no LoRA modules to save");
  for (const auto& [module, weights] : adapter.modules) {
    const std::string where = "module \"" + module + "\": ";
    if (!weights.a.defined() || !weights.b.defined() || weights.a.dim() != 2 || weights.b.dim() != 2) {
      return common::Status::InvalidArgument(where + "lora_A and lora_B must both be matrices");
    }
    if (weights.a.size(0) != config.r || weights.b.size(1) != config.r) {
      return common::Status::InvalidArgument(where + "lora_A is [" + std::to_string(weights.a.size(0)) + "," +
                                     std::to_string(weights.a.size(1)) + "] and lora_B [" +
                                     std::to_string(weights.b.size(0)) + "," + std::to_string(weights.b.size(1)) +
                                     "], the config says r=" + std::to_string(config.r));
    }
    for (const at::Tensor& tensor : {weights.a, weights.b}) {
      if (!at::isFloatingType(tensor.scalar_type()) || tensor.scalar_type() == at::kDouble) {
        return common::Status::InvalidArgument(where + "weights must be float32, float16 or bfloat16");
      }
    }
  }
  return common::Status::Ok();
}

// Every key PEFT's LoraConfig writes that LoadLoraAdapter looks at, plus the off values of the
// features it refuses, as PEFT itself writes them: PEFT versions from 0.9 (use_dora) on read it.
nlohmann::json AdapterConfigJson(const LoraAdapterConfig& config) {
  // PEFT writes an integral alpha as an integer (its type is int); 32 rather than 32.0.
  nlohmann::json alpha = config.lora_alpha;
  if (config.lora_alpha == std::trunc(config.lora_alpha) && std::abs(config.lora_alpha) < 1e15) {
    alpha = static_cast<int64_t>(config.lora_alpha);
  }
  nlohmann::json base = nullptr;
  if (!config.base_model_name_or_path.empty()) base = config.base_model_name_or_path;
  return {
      {"peft_type", "LORA"},
      {"task_type", "CAUSAL_LM"},
      {"base_model_name_or_path", base},
      {"revision", nullptr},
      {"r", config.r},
      {"lora_alpha", alpha},
      {"lora_dropout", config.lora_dropout},
      {"use_rslora", config.use_rslora},
      {"target_modules", config.target_modules},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"inference_mode", true},
      {"init_lora_weights", true},
      {"modules_to_save", nullptr},
      {"use_dora", false},
      {"rank_pattern", nlohmann::json::object()},
      {"alpha_pattern", nlohmann::json::object()},
      {"layers_to_transform", nullptr},
  };
}

}  // namespace

double LoraAdapterConfig::Scale() const {
  return use_rslora ? lora_alpha / std::sqrt(static_cast<double>(r)) : lora_alpha / static_cast<double>(r);
}

common::Result<LoraAdapter> LoadLoraAdapter(const std::filesystem::path& dir) {
  std::filesystem::path config_path = dir / "adapter_config.json";
  GRADIENTS_ASSIGN_OR_RETURN(nlohmann::json config_json, common::ReadJsonFile(config_path));
  LoraAdapter adapter;
  common::Result<LoraAdapterConfig> config = ParseAdapterConfig(config_json);
  if (!config.ok()) return config.status().WithContext(config_path.string());
  adapter.config = *config;

  std::filesystem::path weights_path = dir / "adapter_model.safetensors";
  GRADIENTS_ASSIGN_OR_RETURN(common::SafetensorsFile file, common::SafetensorsFile::Open(weights_path));
  const auto fail = [&weights_path](const std::string& message) {
    return common::Status::InvalidArgument(weights_path.string() + ": " + message);
  };
  for (const common::SafetensorsTensor& tensor : file.header().tensors) {
    const std::string& key = tensor.name;
    bool is_a = key.ends_with(".lora_A.weight");
    if (!key.starts_with(kKeyPrefix) || (!is_a && !key.ends_with(".lora_B.weight"))) {
      return fail("unexpected tensor \"" + key + "\" (expected base_model.model.<module>.lora_A.weight or lora_B)");
    }
    std::string module = key.substr(kKeyPrefix.size(), key.size() - kKeyPrefix.size() - 14);
    if (tensor.shape.size() != 2) return fail("tensor \"" + key + "\" is not a matrix");
    common::Result<at::Tensor> view = WeightView(file, tensor);
    if (!view.ok()) return view.status().WithContext(weights_path.string());
    at::Tensor value = view->to(at::kFloat).clone();
    int64_t rank_dim = value.size(is_a ? 0 : 1);
    if (rank_dim != adapter.config.r) {
      return fail("tensor \"" + key + "\" has rank " + std::to_string(rank_dim) + ", the config says r=" +
                  std::to_string(adapter.config.r));
    }
    (is_a ? adapter.modules[module].a : adapter.modules[module].b) = value;
  }
  if (adapter.modules.empty()) return fail("no LoRA tensors");
  for (const auto& [module, weights] : adapter.modules) {
    if (!weights.a.defined() || !weights.b.defined()) {
      return fail("module \"" + module + "\" has lora_" + (weights.a.defined() ? "A" : "B") + " but not lora_" +
                  (weights.a.defined() ? "B" : "A"));
    }
  }
  return adapter;
}

common::Status SaveLoraAdapter(const LoraAdapter& adapter, const std::filesystem::path& dir) {
  GRADIENTS_RETURN_IF_ERROR(CheckSavable(adapter));
  common::SafetensorsWriter writer;
  for (const auto& [module, weights] : adapter.modules) {
    const std::string key = std::string(kKeyPrefix) + module;
    GRADIENTS_RETURN_IF_ERROR(AddTensor(writer, key + ".lora_A.weight", weights.a));
    GRADIENTS_RETURN_IF_ERROR(AddTensor(writer, key + ".lora_B.weight", weights.b));
  }
  writer.SetMetadata({{"format", "pt"}});  // what PEFT (through safetensors.torch) writes
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return common::Status::IoError("creating " + dir.string() + ": " + ec.message());
  // The weights first: a directory with a config but no weights would look like a finished adapter.
  GRADIENTS_RETURN_IF_ERROR(writer.WriteFile(dir / "adapter_model.safetensors"));
  return common::WriteFileDurably(dir / "adapter_config.json", AdapterConfigJson(adapter.config).dump(2) + "\n");
}

common::Status MergeLoraAdapter(CausalLm& model, const LoraAdapter& adapter) {
  std::map<std::string, at::Tensor> parameters;
  for (const auto& item : model->named_parameters()) parameters[item.key()] = item.value();
  const double scale = adapter.config.Scale();
  torch::NoGradGuard no_grad;
  for (const auto& [module, weights] : adapter.modules) {
    std::string leaf = module.substr(module.rfind('.') + 1);
    const auto& targets = adapter.config.target_modules;
    if (std::find(targets.begin(), targets.end(), leaf) == targets.end()) {
      return common::Status::InvalidArgument("adapter module \"" + module + "\" is not among target_modules");
    }
    auto weight = parameters.find(module + ".weight");
    if (weight == parameters.end() || weight->second.dim() != 2 || module.starts_with("lm_head") ||
        module.ends_with("embed_tokens")) {
      return common::Status::InvalidArgument("adapter module \"" + module + "\" is not a linear layer of this model");
    }
    at::Tensor& w = weight->second;
    if (weights.a.size(1) != w.size(1) || weights.b.size(0) != w.size(0)) {
      return common::Status::InvalidArgument("adapter module \"" + module + "\": lora_A is [" +
                                     std::to_string(weights.a.size(0)) + "," + std::to_string(weights.a.size(1)) +
                                     "] and lora_B [" + std::to_string(weights.b.size(0)) + "," +
                                     std::to_string(weights.b.size(1)) + "], the weight is [" +
                                     std::to_string(w.size(0)) + "," + std::to_string(w.size(1)) + "]");
    }
    at::Tensor delta = at::matmul(weights.b, weights.a) * scale;
    w.copy_((w.to(at::kFloat) + delta.to(w.device())).to(w.scalar_type()));
  }
  return common::Status::Ok();
}

}  // namespace gradients::train
