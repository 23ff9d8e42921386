#include "trainers/model_config.h"

#include "common/config.h"
#include "common/strict_json.h"

namespace gradients::train {
namespace {

using json = nlohmann::json;

// Reads config.json keys leniently about presence (defaults apply) and strictly about types.
class ConfigFields {
 public:
  explicit ConfigFields(const json& object) : object_(object) {}

  const json* Find(const char* key) const {
    auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  common::Status Int(const char* key, int64_t& out, bool required, int64_t minimum) const {
    const json* value = Find(key);
    if (value == nullptr) {
      return required ? common::Status::InvalidArgument(std::string(key) + ": required key is missing") : common::Status::Ok();
    }
    if (!value->is_number_integer()) {
      return common::Status::InvalidArgument(std::string(key) + ": expected an integer, got " + common::JsonSnippet(*value));
    }
    int64_t v = value->get<int64_t>();
    if (v < minimum || v > (int64_t{1} << 40)) {
      return common::Status::InvalidArgument(std::string(key) + ": " + std::to_string(v) + " is out of range");
    }
    out = v;
    return common::Status::Ok();
  }

  common::Status Number(const char* key, double& out, double exclusive_minimum) const {
    const json* value = Find(key);
    if (value == nullptr) return common::Status::Ok();
    if (!value->is_number()) {
      return common::Status::InvalidArgument(std::string(key) + ": expected a number, got " + common::JsonSnippet(*value));
    }
    double v = value->get<double>();
    if (!(v > exclusive_minimum) || v > 1e30) {
      return common::Status::InvalidArgument(std::string(key) + ": " + common::JsonSnippet(*value) + " is out of range");
    }
    out = v;
    return common::Status::Ok();
  }

  common::Status Bool(const char* key, bool& out) const {
    const json* value = Find(key);
    if (value == nullptr) return common::Status::Ok();
    if (!value->is_boolean()) {
      return common::Status::InvalidArgument(std::string(key) + ": expected true or false, got " + common::JsonSnippet(*value));
    }
    out = value->get<bool>();
    return common::Status::Ok();
  }

 private:
  const json& object_;
};

common::Result<ModelFamily> ParseFamily(const json& config) {
  auto model_type = config.find("model_type");
  if (model_type == config.end() || !model_type->is_string()) {
    return common::Status::InvalidArgument("model_type: required string is missing");
  }
  std::string name = model_type->get<std::string>();
  if (name == "llama") return ModelFamily::kLlama;
  if (name == "mistral") return ModelFamily::kMistral;
  if (name == "qwen2") return ModelFamily::kQwen2;
  return common::Status::InvalidArgument("model_type: \"" + name.substr(0, 40) +
                                 "\" is not supported (expected llama, mistral or qwen2)");
}

common::Status ParseRopeScaling(const json& config, RopeScaling& out) {
  auto it = config.find("rope_scaling");
  if (it == config.end() || it->is_null()) return common::Status::Ok();
  if (!it->is_object()) return common::Status::InvalidArgument("expected an object, got " + common::JsonSnippet(*it));
  const json& scaling = *it;
  // transformers reads "rope_type" and, from older configs, "type".
  auto type = scaling.find("rope_type");
  if (type == scaling.end()) type = scaling.find("type");
  if (type == scaling.end() || !type->is_string()) {
    return common::Status::InvalidArgument("rope_type: required string is missing");
  }
  out.type = type->get<std::string>();
  if (out.type != "default" && out.type != "linear" && out.type != "llama3") {
    return common::Status::InvalidArgument("rope_type: \"" + out.type.substr(0, 40) +
                                   "\" is not supported (expected default, linear or llama3)");
  }
  ConfigFields fields(scaling);
  common::Status status = fields.Number("factor", out.factor, 0.0);
  if (status.ok()) status = fields.Number("low_freq_factor", out.low_freq_factor, 0.0);
  if (status.ok()) status = fields.Number("high_freq_factor", out.high_freq_factor, 0.0);
  if (status.ok()) {
    status = fields.Int("original_max_position_embeddings", out.original_max_position_embeddings, false, 1);
  }
  if (status.ok() && out.type == "llama3" && !(out.high_freq_factor > out.low_freq_factor)) {
    status = common::Status::InvalidArgument("high_freq_factor must exceed low_freq_factor");
  }
  return status;
}

common::Status ParseTokenIds(const json& config, ModelConfig& out) {
  if (auto bos = config.find("bos_token_id"); bos != config.end() && bos->is_number_integer()) {
    out.bos_token_id = bos->get<int64_t>();
  }
  auto eos = config.find("eos_token_id");
  if (eos == config.end() || eos->is_null()) return common::Status::Ok();
  if (eos->is_number_integer()) {
    out.eos_token_ids = {eos->get<int64_t>()};
    return common::Status::Ok();
  }
  if (eos->is_array()) {
    for (const json& id : *eos) {
      if (!id.is_number_integer()) break;
      out.eos_token_ids.push_back(id.get<int64_t>());
    }
    if (out.eos_token_ids.size() == eos->size()) return common::Status::Ok();
  }
  return common::Status::InvalidArgument("eos_token_id: expected an integer or a list of integers, got " +
                                 common::JsonSnippet(*eos));
}

common::Status Validate(const ModelConfig& c) {
  if (c.num_attention_heads % c.num_key_value_heads != 0) {
    return common::Status::InvalidArgument("num_key_value_heads: " + std::to_string(c.num_key_value_heads) +
                                   " does not divide num_attention_heads " + std::to_string(c.num_attention_heads));
  }
  if (c.head_dim % 2 != 0) {
    return common::Status::InvalidArgument("head_dim: " + std::to_string(c.head_dim) + " must be even for rotary embeddings");
  }
  if (c.torch_dtype != "float32" && c.torch_dtype != "float16" && c.torch_dtype != "bfloat16") {
    return common::Status::InvalidArgument("torch_dtype: \"" + c.torch_dtype.substr(0, 40) +
                                   "\" is not supported (expected float32, float16 or bfloat16)");
  }
  for (int64_t id : c.eos_token_ids) {
    if (id < 0 || id >= c.vocab_size) return common::Status::InvalidArgument("eos_token_id: outside the vocabulary");
  }
  return common::Status::Ok();
}

}  // namespace

std::string_view ModelFamilyName(ModelFamily family) {
  switch (family) {
    case ModelFamily::kLlama: return "llama";
    case ModelFamily::kMistral: return "mistral";
    case ModelFamily::kQwen2: return "qwen2";
  }
  return "llama";
}

common::Result<ModelConfig> ParseModelConfig(const json& config) {
  if (!config.is_object()) return common::Status::InvalidArgument("expected a JSON object, got " + common::JsonSnippet(config));
  ModelConfig c;
  GRADIENTS_ASSIGN_OR_RETURN(c.family, ParseFamily(config));
  ConfigFields fields(config);
  GRADIENTS_RETURN_IF_ERROR(fields.Int("hidden_size", c.hidden_size, true, 1));
  GRADIENTS_RETURN_IF_ERROR(fields.Int("intermediate_size", c.intermediate_size, true, 1));
  GRADIENTS_RETURN_IF_ERROR(fields.Int("num_hidden_layers", c.num_hidden_layers, true, 1));
  GRADIENTS_RETURN_IF_ERROR(fields.Int("num_attention_heads", c.num_attention_heads, true, 1));
  c.num_key_value_heads = c.num_attention_heads;
  GRADIENTS_RETURN_IF_ERROR(fields.Int("num_key_value_heads", c.num_key_value_heads, false, 1));
  if (c.hidden_size % c.num_attention_heads == 0) c.head_dim = c.hidden_size / c.num_attention_heads;
  GRADIENTS_RETURN_IF_ERROR(fields.Int("head_dim", c.head_dim, c.head_dim == 0, 1));
  GRADIENTS_RETURN_IF_ERROR(fields.Number("rms_norm_eps", c.rms_norm_eps, 0.0));
  GRADIENTS_RETURN_IF_ERROR(fields.Number("rope_theta", c.rope_theta, 0.0));
  GRADIENTS_RETURN_IF_ERROR(ParseRopeScaling(config, c.rope_scaling).WithContext("rope_scaling"));
  GRADIENTS_RETURN_IF_ERROR(fields.Int("vocab_size", c.vocab_size, true, 1));
  GRADIENTS_RETURN_IF_ERROR(fields.Bool("tie_word_embeddings", c.tie_word_embeddings));
  GRADIENTS_RETURN_IF_ERROR(fields.Bool("attention_bias", c.attention_bias));
  GRADIENTS_RETURN_IF_ERROR(fields.Int("max_position_embeddings", c.max_position_embeddings, false, 1));
  bool use_sliding_window = c.family == ModelFamily::kMistral;
  GRADIENTS_RETURN_IF_ERROR(fields.Bool("use_sliding_window", use_sliding_window));
  int64_t window = 0;
  GRADIENTS_RETURN_IF_ERROR(fields.Int("sliding_window", window, false, 1));
  if (use_sliding_window && window > 0) c.sliding_window = window;
  if (c.family == ModelFamily::kQwen2 && c.sliding_window) {
    // Qwen2 windows only the layers from max_window_layers on; not implemented, so refuse rather than differ.
    return common::Status::InvalidArgument("use_sliding_window: Qwen2 sliding-window attention is not supported");
  }
  if (const json* dtype = fields.Find("torch_dtype"); dtype != nullptr) {
    if (!dtype->is_string()) return common::Status::InvalidArgument("torch_dtype: expected a string, got " + common::JsonSnippet(*dtype));
    c.torch_dtype = dtype->get<std::string>();
  }
  GRADIENTS_RETURN_IF_ERROR(ParseTokenIds(config, c));
  GRADIENTS_RETURN_IF_ERROR(Validate(c));
  return c;
}

common::Result<ModelConfig> LoadModelConfig(const std::filesystem::path& model_dir) {
  std::filesystem::path path = model_dir / "config.json";
  GRADIENTS_ASSIGN_OR_RETURN(json config, common::ReadJsonFile(path));
  common::Result<ModelConfig> parsed = ParseModelConfig(config);
  if (!parsed.ok()) return parsed.status().WithContext(path.string());
  return parsed;
}

int64_t ModelConfig::ParameterCount() const {
  int64_t q = num_attention_heads * head_dim;
  int64_t kv = num_key_value_heads * head_dim;
  int64_t attention = hidden_size * q + 2 * hidden_size * kv + q * hidden_size;
  if (qkv_bias()) attention += q + 2 * kv;
  if (o_bias()) attention += hidden_size;
  int64_t mlp = 3 * hidden_size * intermediate_size;
  int64_t layer = attention + mlp + 2 * hidden_size;
  int64_t embeddings = vocab_size * hidden_size * (tie_word_embeddings ? 1 : 2);
  return num_hidden_layers * layer + embeddings + hidden_size;
}

nlohmann::json ModelConfig::ToJson() const {
  static constexpr const char* kArchitectures[] = {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM"};
  json out = {
      {"architectures", {kArchitectures[static_cast<int>(family)]}},
      {"model_type", ModelFamilyName(family)},
      {"hidden_size", hidden_size},
      {"intermediate_size", intermediate_size},
      {"num_hidden_layers", num_hidden_layers},
      {"num_attention_heads", num_attention_heads},
      {"num_key_value_heads", num_key_value_heads},
      {"head_dim", head_dim},
      {"hidden_act", "silu"},
      {"rms_norm_eps", rms_norm_eps},
      {"rope_theta", rope_theta},
      {"vocab_size", vocab_size},
      {"tie_word_embeddings", tie_word_embeddings},
      {"max_position_embeddings", max_position_embeddings},
      {"torch_dtype", torch_dtype},
      {"initializer_range", 0.02},
      {"use_cache", true},
  };
  if (family == ModelFamily::kLlama) {
    out["attention_bias"] = attention_bias;
    out["mlp_bias"] = false;
  }
  if (family == ModelFamily::kQwen2) out["use_sliding_window"] = sliding_window.has_value();
  out["sliding_window"] = sliding_window ? json(*sliding_window) : json(nullptr);
  if (rope_scaling.type != "default") {
    out["rope_scaling"] = {{"rope_type", rope_scaling.type}, {"factor", rope_scaling.factor}};
    if (rope_scaling.type == "llama3") {
      out["rope_scaling"]["low_freq_factor"] = rope_scaling.low_freq_factor;
      out["rope_scaling"]["high_freq_factor"] = rope_scaling.high_freq_factor;
      out["rope_scaling"]["original_max_position_embeddings"] = rope_scaling.original_max_position_embeddings;
    }
  } else {
    out["rope_scaling"] = nullptr;
  }
  if (bos_token_id) out["bos_token_id"] = *bos_token_id;
  if (eos_token_ids.size() == 1) out["eos_token_id"] = eos_token_ids[0];
  if (eos_token_ids.size() > 1) out["eos_token_id"] = eos_token_ids;
  return out;
}

}  // namespace gradients::train
