// A Llama-family decoder-only language model (Llama, Mistral, Qwen2) with the semantics of
// transformers' LlamaForCausalLM / MistralForCausalLM / Qwen2ForCausalLM. Parameter names are
// Hugging Face's ("model.layers.0.self_attn.q_proj.weight"), so checkpoints load by name.
#pragma once

#include <optional>
#include <vector>

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/embedding.h>
#include <torch/nn/pimpl.h>

#include "trainers/model_config.h"
#include "trainers/rope.h"

namespace gradients::train {

// Keys and values of earlier positions, one entry per layer, for incremental decoding.
struct KvCache {
  std::vector<at::Tensor> keys;    // [batch, kv_heads, cached, head_dim]
  std::vector<at::Tensor> values;
  int64_t length() const { return keys.empty() || !keys[0].defined() ? 0 : keys[0].size(2); }
};

struct ForwardOptions {
  // [batch, seq]; default: cache length .. cache length + seq - 1 on every row.
  at::Tensor position_ids{};
  // [batch, seq]; when given, a position attends only to earlier positions with the same id, so
  // several documents packed in one row do not see each other.
  at::Tensor document_ids{};
  // Appended to and read from when given.
  KvCache* cache = nullptr;
  // Activation checkpointing: keep only each layer's input and recompute the layer in the backward
  // pass (training without a cache only). Trades about a third more compute for activations of
  // one layer instead of all.
  bool checkpoint_layers = false;
};

// A linear projection (y = x W^T + b) that can carry a LoRA adapter, as PEFT's LoraLayer:
// y += scale * B(A(dropout(x))). The adapter's tensors are not registered parameters, so the
// module's parameters stay exactly the base model's (what model files hold); the trainer owns,
// trains and saves them (trainers/lora_training.h). The weight is cast to the input's dtype, so
// float32 master weights can serve a bfloat16 forward pass.
class ProjectionImpl : public torch::nn::Module {
 public:
  ProjectionImpl(int64_t in_features, int64_t out_features, bool bias);
  at::Tensor forward(const at::Tensor& x);

  at::Tensor weight;  // [out, in]
  at::Tensor bias;    // [out] or undefined

  struct Lora {
    at::Tensor a;  // [r, in]
    at::Tensor b;  // [out, r]
    double scale = 1;
    double dropout = 0;
    at::Generator generator{};  // draws the dropout masks (its state is part of a resumable run)
  };
  // Undefined tensors when no adapter is attached.
  Lora lora;
};
TORCH_MODULE(Projection);

// The outputs of projections that read the same input x [..., in], side by side ([positions, sum
// of their outputs]), from one matrix product for the weights and one for the LoRA updates:
//   x [W1; W2; ...]^T + (x [A1; A2; ...]^T) blockdiag(s1 B1, s2 B2, ...)^T.
// One product in place of several saves launches and, in the backward pass, the sums of the
// input's gradient over the projections; the LoRA update is added inside the product (addmm_), not
// in passes of its own over the output. Under LoRA dropout each adapter draws its own mask, in the
// order of `projections` (as when they run one by one). A projection without an adapter gets a
// block without columns.
at::Tensor ProjectJointly(const at::Tensor& x, const std::vector<ProjectionImpl*>& projections);

class RmsNormImpl : public torch::nn::Module {
 public:
  RmsNormImpl(int64_t size, double eps);
  at::Tensor forward(const at::Tensor& x);
  at::Tensor weight;

 private:
  double eps_;
};
TORCH_MODULE(RmsNorm);

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const ModelConfig& config);
  // `allowed` is a boolean mask [batch or 1, 1, seq, keys] (true = may attend), or undefined for
  // plain causal attention without a cache.
  at::Tensor forward(const at::Tensor& x, const RopeTables& rope, const at::Tensor& allowed, at::Tensor* cached_keys,
                     at::Tensor* cached_values);
  Projection q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

 private:
  int64_t heads_, kv_heads_, head_dim_;
};
TORCH_MODULE(Attention);

class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const ModelConfig& config);
  at::Tensor forward(const at::Tensor& x);
  Projection gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

class DecoderLayerImpl : public torch::nn::Module {
 public:
  explicit DecoderLayerImpl(const ModelConfig& config);
  at::Tensor forward(const at::Tensor& x, const RopeTables& rope, const at::Tensor& allowed, at::Tensor* cached_keys,
                     at::Tensor* cached_values);
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};
  RmsNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
};
TORCH_MODULE(DecoderLayer);

// The "model." part: embeddings, layers, final norm.
class DecoderImpl : public torch::nn::Module {
 public:
  explicit DecoderImpl(const ModelConfig& config);
  torch::nn::Embedding embed_tokens{nullptr};
  torch::nn::ModuleList layers{nullptr};
  RmsNorm norm{nullptr};
};
TORCH_MODULE(Decoder);

class CausalLmImpl : public torch::nn::Module {
 public:
  explicit CausalLmImpl(const ModelConfig& config);

  // Final hidden states [batch, seq, hidden] for `input_ids` [batch, seq].
  at::Tensor Hidden(const at::Tensor& input_ids, const ForwardOptions& options = {});
  // Logits [batch, seq, vocab] in the compute dtype.
  at::Tensor forward(const at::Tensor& input_ids, const ForwardOptions& options = {});
  at::Tensor Logits(const at::Tensor& hidden);
  // The output projection's weight [vocab, hidden]: lm_head's, or the embeddings' when tied.
  at::Tensor& OutputWeight();

  // The dtype activations are computed in. Undefined (the default): the parameters' dtype. Set to
  // bfloat16 over float32 parameters for mixed precision: each weight is cast where it is used.
  void SetComputeDtype(std::optional<at::ScalarType> dtype) { compute_dtype_ = dtype; }

  const ModelConfig& config() const { return config_; }

  Decoder model{nullptr};
  Projection lm_head{nullptr};  // null when the embeddings are tied

 private:
  ModelConfig config_;
  std::optional<at::ScalarType> compute_dtype_;
  // RoPE's inverse frequencies on the device of the last forward pass, computed once: computing
  // them on the host and copying them in every pass would wait for the GPU's queue each time.
  at::Tensor inverse_frequencies_;
};
TORCH_MODULE(CausalLm);

// Which keys each query may attend to: causal (offset by `past` cached positions), within
// `window` when set, and within the same document when `document_ids` is defined.
// Returns [batch or 1, 1, seq, past + seq] booleans.
at::Tensor AttentionMask(int64_t seq, int64_t past, std::optional<int64_t> window, const at::Tensor& document_ids,
                         const at::Device& device);

}  // namespace gradients::train
