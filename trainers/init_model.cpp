#include "trainers/init_model.h"

#include <torch/types.h>

#include "trainers/model_loader.h"
#include "text/tokenizer.h"

namespace gradients::train {
namespace {

ModelConfig Llama(int64_t hidden, int64_t ffn, int64_t layers, int64_t heads, int64_t kv_heads, int64_t vocab) {
  ModelConfig c;
  c.family = ModelFamily::kLlama;
  c.hidden_size = hidden;
  c.intermediate_size = ffn;
  c.num_hidden_layers = layers;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.head_dim = hidden / heads;
  c.vocab_size = vocab;
  c.rms_norm_eps = 1e-5;
  c.max_position_embeddings = 2048;
  c.bos_token_id = 1;
  c.eos_token_ids = {2};
  return c;
}

// `source` is a tokenizer file or a directory; the configuration files beside a tokenizer file
// go along, since they carry the special tokens. A single file is copied under the name a model
// directory gives it (tokenizer.model for SentencePiece, else tokenizer.json), whatever it was
// called, so that the model directory's tokenizer loads.
common::Status CopyTokenizerSource(const std::filesystem::path& source, const std::filesystem::path& out_dir) {
  if (std::filesystem::is_directory(source)) return CopyTokenizerFiles(source, out_dir);
  const std::filesystem::path source_dir = source.parent_path();
  const std::string canonical = source.extension() == ".model" ? "tokenizer.model" : "tokenizer.json";
  const std::vector<std::pair<std::filesystem::path, std::string>> copies = {
      {source, canonical},
      {source_dir / "tokenizer_config.json", "tokenizer_config.json"},
      {source_dir / "special_tokens_map.json", "special_tokens_map.json"}};
  for (const auto& [from, name] : copies) {
    if (!std::filesystem::exists(from)) continue;
    std::error_code ec;
    std::filesystem::copy_file(from, out_dir / name, std::filesystem::copy_options::overwrite_existing, ec);
    if (ec) return common::Status::IoError("copying " + from.string() + ": " + ec.message());
  }
  return common::Status::Ok();
}

}  // namespace

const std::vector<ModelPreset>& ModelPresets() {
  static const std::vector<ModelPreset> presets = {
      {"tiny", "CI-sized: hidden 64, 2 layers, 4 heads (2 kv), vocab 512", Llama(64, 172, 2, 4, 2, 512)},
      {"small", "~5M parameters: hidden 256, 4 layers, 4 heads, vocab 4096", Llama(256, 688, 4, 4, 4, 4096)},
      {"base", "~25M parameters: hidden 512, 6 layers, 8 heads (4 kv), vocab 8192", Llama(512, 1376, 6, 8, 4, 8192)},
      {"tinyllama-1.1b", "TinyLlama 1.1B shape: hidden 2048, 22 layers, 32 heads (4 kv), vocab 32000",
       Llama(2048, 5632, 22, 32, 4, 32000)},
  };
  return presets;
}

common::Result<ModelPreset> FindModelPreset(const std::string& name) {
  std::string known;
  for (const ModelPreset& preset : ModelPresets()) {
    if (preset.name == name) return preset;
    known += (known.empty() ? "" : ", ") + preset.name;
  }
  return common::Status::InvalidArgument("unknown preset \"" + name.substr(0, 40) + "\" (expected one of " + known + ")");
}

void InitializeWeights(CausalLm& model, uint64_t seed) {
  torch::NoGradGuard no_grad;
  at::Generator generator = at::detail::createCPUGenerator(seed);
  for (auto& item : model->named_parameters()) {
    const std::string& name = item.key();
    at::Tensor& parameter = item.value();
    if (name.ends_with("norm.weight")) {
      parameter.fill_(1.0);
    } else if (name.ends_with(".bias")) {
      parameter.zero_();
    } else {
      parameter.normal_(0.0, 0.02, generator);
    }
  }
}

common::Status InitModel(const std::filesystem::path& out_dir, const InitModelOptions& options) {
  GRADIENTS_ASSIGN_OR_RETURN(ModelPreset preset, FindModelPreset(options.preset));
  ModelConfig config = preset.config;
  if (options.tokenizer) {
    GRADIENTS_ASSIGN_OR_RETURN(std::unique_ptr<text::Tokenizer> tokenizer, text::LoadTokenizer(*options.tokenizer));
    config.vocab_size = tokenizer->vocab_size();
    config.bos_token_id = tokenizer->bos_id();
    config.eos_token_ids.clear();
    if (auto eos = tokenizer->eos_id()) config.eos_token_ids = {*eos};
  }
  CausalLm model(config);
  InitializeWeights(model, options.seed);
  GRADIENTS_RETURN_IF_ERROR(SaveCausalLm(model, out_dir, options.dtype));
  if (options.tokenizer) GRADIENTS_RETURN_IF_ERROR(CopyTokenizerSource(*options.tokenizer, out_dir));
  return common::Status::Ok();
}

}  // namespace gradients::train
