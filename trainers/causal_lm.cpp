#include "trainers/causal_lm.h"

#include <cmath>

#include <ATen/core/grad_mode.h>
#include <torch/autograd.h>
#include <torch/nn/functional/activation.h>
#include <torch/version.h>

#ifdef GRADIENTS_FUSED_CUDA_KERNELS
#include "trainers/fused_ops.h"
#endif

namespace gradients::train {
namespace {

at::Tensor CastTo(const at::Tensor& tensor, at::ScalarType dtype) {
  return tensor.scalar_type() == dtype ? tensor : tensor.to(dtype);
}

// Inverted dropout with masks drawn from `generator`, so a resumed run draws the same masks.
at::Tensor Dropout(const at::Tensor& x, double p, at::Generator& generator) {
  at::Tensor keep = at::empty_like(x).bernoulli_(1.0 - p, generator);
  return x * keep.mul_(1.0 / (1.0 - p));
}

// Scaled dot-product attention over q [b, h, s, d] and k, v [b, kv, t, d], kv dividing h (grouped
// queries: each key/value head serves h / kv query heads).
at::Tensor Attend(const at::Tensor& q, at::Tensor k, at::Tensor v, const at::Tensor& allowed) {
  const int64_t groups = q.size(1) / k.size(1);
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 5)
  // Plain causal attention on CUDA runs in flash / cuDNN kernels that read the shared key/value
  // heads in place: copies repeated per query head would be kept for the backward pass (for
  // TinyLlama, 8x the keys and values). With a mask, the memory-efficient kernel runs, which
  // needs the copies.
  if (!allowed.defined()) {
    return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true, std::nullopt,
                                            /*enable_gqa=*/groups > 1);
  }
#endif
  if (groups > 1) {
    k = k.repeat_interleave(groups, 1);
    v = v.repeat_interleave(groups, 1);
  }
#if TORCH_VERSION_MAJOR >= 2
  if (!allowed.defined()) return at::scaled_dot_product_attention(q, k, v, {}, 0.0, /*is_causal=*/true);
  return at::scaled_dot_product_attention(q, k, v, allowed, 0.0, /*is_causal=*/false);
#else
  // libtorch 1.13 (Debian) has no SDPA: transformers' eager attention, softmax in float32. The
  // scale and the mask enter the score product itself (baddbmm: mask + scale * q k^T), which saves
  // two passes over the scores forward and two backward.
  const int64_t batch = q.size(0), heads = q.size(1), seq = q.size(2), keys = k.size(2), dim = q.size(3);
  at::Tensor mask = allowed.defined() ? allowed : AttentionMask(seq, 0, std::nullopt, {}, q.device());
  at::Tensor additive = at::zeros(mask.sizes(), q.options())
                            .masked_fill_(mask.logical_not(), -std::numeric_limits<float>::infinity());
  additive = additive.size(0) == 1 ? additive.view({1, seq, keys})
                                   : additive.expand({batch, heads, seq, keys}).reshape({batch * heads, seq, keys});
  at::Tensor scores = at::baddbmm(additive, q.reshape({batch * heads, seq, dim}),
                                  k.reshape({batch * heads, keys, dim}).transpose(1, 2), /*beta=*/1,
                                  /*alpha=*/1.0 / std::sqrt(static_cast<double>(dim)));
  at::Tensor probabilities = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  return at::bmm(probabilities, v.reshape({batch * heads, keys, dim})).view({batch, heads, seq, dim});
#endif
}

// RMSNorm with a backward pass of its own: it keeps only the input (in its own dtype) and the
// per-row inverse RMS, where autograd through the float32 chain keeps float32 copies of the input
// (for bfloat16 activations, twice their size) and takes more passes.
class RmsNormFunction : public torch::autograd::Function<RmsNormFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& x, const at::Tensor& weight,
                            double eps) {
    at::Tensor x32 = x.to(at::kFloat);
    at::Tensor inverse_rms = at::rsqrt(x32.pow(2).mean(-1, true) + eps);
    context->save_for_backward({x, inverse_rms, weight});
    return CastTo(weight, x.scalar_type()) * (x32 * inverse_rms).to(x.scalar_type());
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = context->get_saved_variables();
    const at::Tensor& x = saved[0];
    const at::Tensor& inverse_rms = saved[1];
    const at::Tensor& weight = saved[2];
    const at::Tensor x32 = x.to(at::kFloat);
    const at::Tensor grad = grad_outputs[0].to(at::kFloat);
    at::Tensor grad_weight;
    if (weight.requires_grad()) {
      const at::Tensor normalized = (x32 * inverse_rms).to(x.scalar_type()).to(at::kFloat);
      grad_weight = (grad * normalized).reshape({-1, x.size(-1)}).sum(0).to(weight.scalar_type());
    }
    // y = w * x * r with r = (mean(x^2) + eps)^-1/2, so
    // dx = r * (w * g) - x * r^3 * mean(w * g * x).
    const at::Tensor grad_normalized = grad * weight.to(at::kFloat);
    const at::Tensor projection = (grad_normalized * x32).mean(-1, true) * inverse_rms.pow(3);
    at::Tensor grad_x = (grad_normalized * inverse_rms - x32 * projection).to(x.scalar_type());
    return {grad_x, grad_weight, at::Tensor()};
  }
};

// silu(gate) * up over the joint output [..., 2 * intermediate] of gate_proj and up_proj, with a
// backward pass of its own that keeps only that input and writes both halves of its gradient
// into one tensor: autograd through the two operations also keeps silu(gate), one more
// [tokens, intermediate] tensor per layer (for TinyLlama at 8 x 2048 tokens, 184 MiB a layer), and
// would join the two halves' gradients in another pass.
class SwiGluFunction : public torch::autograd::Function<SwiGluFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& gate_up) {
    context->save_for_backward({gate_up});
    const int64_t half = gate_up.size(-1) / 2;
    return at::silu(gate_up.narrow(-1, 0, half)) * gate_up.narrow(-1, half, half);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grad_outputs) {
    const at::Tensor gate_up = context->get_saved_variables()[0];
    const int64_t half = gate_up.size(-1) / 2;
    const at::Tensor gate = gate_up.narrow(-1, 0, half), up = gate_up.narrow(-1, half, half);
    const at::Tensor& grad = grad_outputs[0];
    at::Tensor grad_gate_up = at::empty_like(gate_up);
    at::Tensor grad_gate = grad_gate_up.narrow(-1, 0, half), grad_up = grad_gate_up.narrow(-1, half, half);
    at::silu_backward_out(grad_gate, grad * up, gate);
    at::mul_out(grad_up, grad, at::silu(gate));
    return {grad_gate_up};
  }
};

// Runs a decoder layer without keeping its activations; the backward pass recomputes them (with
// the same dropout masks: the generator's state is rewound) and back-propagates through the
// recomputed graph, which also accumulates the layer's parameter gradients. The parameters are
// therefore not inputs of this function, as in PyTorch's reentrant checkpoint.
class CheckpointedLayer : public torch::autograd::Function<CheckpointedLayer> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& x, DecoderLayerImpl* layer,
                            const at::Tensor& cos, const at::Tensor& sin, const at::Tensor& allowed,
                            std::optional<at::Generator> generator) {
    context->saved_data["x"] = x.detach();
    context->saved_data["layer"] = reinterpret_cast<int64_t>(layer);
    context->saved_data["cos"] = cos;
    context->saved_data["sin"] = sin;
    context->saved_data["allowed"] = allowed;
    // An autograd function's tensor arguments must be defined: no mask travels as an empty one.
    const at::Tensor mask = allowed.numel() > 0 ? allowed : at::Tensor();
    if (generator) {
      context->saved_data["generator"] = *generator;
      context->saved_data["generator_state"] = generator->get_state();
    }
    return layer->forward(x, RopeTables{cos, sin}, mask, nullptr, nullptr);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grad_outputs) {
    auto* layer = reinterpret_cast<DecoderLayerImpl*>(context->saved_data["layer"].toInt());
    at::Tensor input = context->saved_data["x"].toTensor().detach().requires_grad_(true);
    RopeTables rope{context->saved_data["cos"].toTensor(), context->saved_data["sin"].toTensor()};
    at::Tensor allowed = context->saved_data["allowed"].toTensor();
    if (allowed.numel() == 0) allowed = at::Tensor();
    std::optional<at::Generator> generator;
    at::Tensor current_state;
    if (context->saved_data.find("generator") != context->saved_data.end()) {
      generator = context->saved_data["generator"].toGenerator();
      current_state = generator->get_state();
      generator->set_state(context->saved_data["generator_state"].toTensor());
    }
    {
      at::AutoGradMode enable_grad(true);
      at::Tensor output = layer->forward(input, rope, allowed, nullptr, nullptr);
      torch::autograd::backward({output}, {grad_outputs[0]});
    }
    if (generator) generator->set_state(current_state);
    return {input.grad(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor Joined(const std::vector<at::Tensor>& tensors, int64_t dim) {
  return tensors.size() == 1 ? tensors[0] : at::cat(tensors, dim);
}

// x's shape with the last dimension replaced.
std::vector<int64_t> WithLastDim(const at::Tensor& x, int64_t last) {
  std::vector<int64_t> shape(x.sizes().begin(), x.sizes().end());
  shape.back() = last;
  return shape;
}

// The generator the layer's LoRA dropout draws from, if any.
std::optional<at::Generator> DropoutGenerator(DecoderLayerImpl& layer) {
  for (ProjectionImpl* projection :
       {layer.self_attn->q_proj.get(), layer.self_attn->k_proj.get(), layer.self_attn->v_proj.get(),
        layer.self_attn->o_proj.get(), layer.mlp->gate_proj.get(), layer.mlp->up_proj.get(),
        layer.mlp->down_proj.get()}) {
    if (projection->lora.a.defined() && projection->lora.dropout > 0 && projection->is_training()) {
      return projection->lora.generator;
    }
  }
  return std::nullopt;
}

}  // namespace

at::Tensor ProjectJointly(const at::Tensor& x, const std::vector<ProjectionImpl*>& projections) {
  const at::ScalarType dtype = x.scalar_type();
  const at::Tensor rows = x.reshape({-1, x.size(-1)});
  std::vector<at::Tensor> weights, biases;
  bool any_bias = false, any_lora = false, any_dropout = false;
  for (ProjectionImpl* projection : projections) {
    weights.push_back(CastTo(projection->weight, dtype));
    any_bias = any_bias || projection->bias.defined();
    any_lora = any_lora || projection->lora.a.defined();
    any_dropout = any_dropout ||
                  (projection->lora.a.defined() && projection->lora.dropout > 0 && projection->is_training());
  }
  if (any_bias) {
    for (ProjectionImpl* projection : projections) {
      biases.push_back(projection->bias.defined() ? CastTo(projection->bias, dtype)
                                                  : at::zeros({projection->weight.size(0)}, x.options()));
    }
  }
  at::Tensor y = at::linear(rows, Joined(weights, 0), any_bias ? Joined(biases, 0) : at::Tensor());
  if (!any_lora) return y;
  std::vector<at::Tensor> downs, ups;  // A's (or, under dropout, their outputs) and scaled B's
  for (ProjectionImpl* projection : projections) {
    const ProjectionImpl::Lora& lora = projection->lora;
    if (!lora.a.defined()) {
      ups.push_back(at::zeros({projection->weight.size(0), 0}, x.options()));
      continue;
    }
    const at::Tensor up = CastTo(lora.b, dtype);
    ups.push_back(lora.scale == 1.0 ? up : up * lora.scale);
    if (!any_dropout) {
      downs.push_back(CastTo(lora.a, dtype));
    } else {
      at::Tensor input = projection->is_training() && lora.dropout > 0
                             ? Dropout(rows, lora.dropout, projection->lora.generator)
                             : rows;
      downs.push_back(at::linear(input, CastTo(lora.a, dtype)));
    }
  }
  const at::Tensor down = any_dropout ? Joined(downs, 1) : at::linear(rows, Joined(downs, 0));
  const at::Tensor up = ups.size() == 1 ? ups[0] : at::block_diag(ups);
  // In place: the weights' product does not keep its output for the backward pass.
  return y.addmm_(down, up.t());
}

at::Tensor AttentionMask(int64_t seq, int64_t past, std::optional<int64_t> window, const at::Tensor& document_ids,
                         const at::Device& device) {
  auto long_options = at::TensorOptions().dtype(at::kLong).device(device);
  at::Tensor query_positions = at::arange(past, past + seq, long_options).unsqueeze(1);
  at::Tensor key_positions = at::arange(0, past + seq, long_options).unsqueeze(0);
  at::Tensor allowed = key_positions <= query_positions;
  if (window) allowed = allowed.logical_and(key_positions > query_positions - *window);
  allowed = allowed.view({1, 1, seq, past + seq});
  if (document_ids.defined()) {
    // Documents are only packed into rows without a cache, so keys and queries are the same positions.
    at::Tensor same = document_ids.unsqueeze(2) == document_ids.unsqueeze(1);
    allowed = allowed.logical_and(same.unsqueeze(1));
  }
  return allowed;
}

ProjectionImpl::ProjectionImpl(int64_t in_features, int64_t out_features, bool with_bias) {
  // torch.nn.Linear's initialisation; loaded and initialised models overwrite it.
  weight = register_parameter("weight", at::empty({out_features, in_features}));
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
  {
    at::NoGradGuard no_grad;
    weight.uniform_(-bound, bound);
  }
  if (with_bias) {
    bias = register_parameter("bias", at::empty({out_features}));
    at::NoGradGuard no_grad;
    bias.uniform_(-bound, bound);
  }
}

at::Tensor ProjectionImpl::forward(const at::Tensor& x) {
  return ProjectJointly(x, {this}).view(WithLastDim(x, weight.size(0)));
}

RmsNormImpl::RmsNormImpl(int64_t size, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({size}));
}

at::Tensor RmsNormImpl::forward(const at::Tensor& x) {
  if (at::GradMode::is_enabled() && (x.requires_grad() || weight.requires_grad())) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 8)
    // On GPUs, PyTorch's fused kernels, forward and backward (one pass each where the function
    // below takes several). They scale by the weight before rounding to x's dtype, where
    // transformers rounds first: a difference within bfloat16's precision, in training only.
    if (x.is_cuda()) return at::rms_norm(x, {x.size(-1)}, CastTo(weight, x.scalar_type()), eps_);
#endif
    return RmsNormFunction::apply(x, weight, eps_);
  }
  // As transformers: normalise in float32, cast back, then scale.
  at::Tensor x32 = x.to(at::kFloat);
  x32 = x32 * at::rsqrt(x32.pow(2).mean(-1, true) + eps_);
  return CastTo(weight, x.scalar_type()) * x32.to(x.scalar_type());
}

AttentionImpl::AttentionImpl(const ModelConfig& c)
    : heads_(c.num_attention_heads), kv_heads_(c.num_key_value_heads), head_dim_(c.head_dim) {
  q_proj = register_module("q_proj", Projection(c.hidden_size, heads_ * head_dim_, c.qkv_bias()));
  k_proj = register_module("k_proj", Projection(c.hidden_size, kv_heads_ * head_dim_, c.qkv_bias()));
  v_proj = register_module("v_proj", Projection(c.hidden_size, kv_heads_ * head_dim_, c.qkv_bias()));
  o_proj = register_module("o_proj", Projection(heads_ * head_dim_, c.hidden_size, c.o_bias()));
}

at::Tensor AttentionImpl::forward(const at::Tensor& x, const RopeTables& rope, const at::Tensor& allowed,
                                  at::Tensor* cached_keys, at::Tensor* cached_values) {
  const int64_t batch = x.size(0), seq = x.size(1);
  at::Tensor q, k, v;
  bool rotated = false;
  if (at::GradMode::is_enabled()) {
    // Training: one product for the three (see ProjectJointly). Without gradients (evaluation,
    // generation) the weights are not concatenated at every call.
    const at::Tensor qkv = ProjectJointly(x, {q_proj.get(), k_proj.get(), v_proj.get()}).view({batch, seq, -1});
#ifdef GRADIENTS_FUSED_CUDA_KERNELS
    if (cached_keys == nullptr && FusedKernelsApply(qkv)) {
      const std::array<at::Tensor, 3> parts = FusedRopeQkv(qkv, rope, heads_, kv_heads_, head_dim_);
      q = parts[0];
      k = parts[1];
      v = parts[2];
      rotated = true;
    }
#endif
    if (!rotated) {
      const std::vector<at::Tensor> parts =
          qkv.split_with_sizes({heads_ * head_dim_, kv_heads_ * head_dim_, kv_heads_ * head_dim_}, -1);
      q = parts[0];
      k = parts[1];
      v = parts[2];
    }
  } else {
    q = q_proj(x);
    k = k_proj(x);
    v = v_proj(x);
  }
  if (!rotated) {
    q = ApplyRope(q.view({batch, seq, heads_, head_dim_}).transpose(1, 2), rope);
    k = ApplyRope(k.view({batch, seq, kv_heads_, head_dim_}).transpose(1, 2), rope);
    v = v.view({batch, seq, kv_heads_, head_dim_}).transpose(1, 2);
  }
  if (cached_keys != nullptr) {
    if (cached_keys->defined()) {
      k = at::cat({*cached_keys, k}, 2);
      v = at::cat({*cached_values, v}, 2);
    }
    *cached_keys = k;
    *cached_values = v;
  }
  at::Tensor y = Attend(q, k, v, allowed);
  return o_proj(y.transpose(1, 2).reshape({batch, seq, heads_ * head_dim_}));
}

MlpImpl::MlpImpl(const ModelConfig& c) {
  gate_proj = register_module("gate_proj", Projection(c.hidden_size, c.intermediate_size, false));
  up_proj = register_module("up_proj", Projection(c.hidden_size, c.intermediate_size, false));
  down_proj = register_module("down_proj", Projection(c.intermediate_size, c.hidden_size, false));
}

at::Tensor MlpImpl::forward(const at::Tensor& x) {
  if (at::GradMode::is_enabled()) {  // training: one product for gate and up (see ProjectJointly)
    const at::Tensor gate_up = ProjectJointly(x, {gate_proj.get(), up_proj.get()});
#ifdef GRADIENTS_FUSED_CUDA_KERNELS
    if (FusedKernelsApply(gate_up)) {
      return down_proj(FusedSwiGlu(gate_up).view(WithLastDim(x, gate_proj->weight.size(0))));
    }
#endif
    return down_proj(SwiGluFunction::apply(gate_up).view(WithLastDim(x, gate_proj->weight.size(0))));
  }
  // Two statements: the dropout masks are drawn in this order.
  const at::Tensor gate = gate_proj(x);
  const at::Tensor up = up_proj(x);
  return down_proj(at::silu(gate) * up);
}

DecoderLayerImpl::DecoderLayerImpl(const ModelConfig& c) {
  self_attn = register_module("self_attn", Attention(c));
  mlp = register_module("mlp", Mlp(c));
  input_layernorm = register_module("input_layernorm", RmsNorm(c.hidden_size, c.rms_norm_eps));
  post_attention_layernorm = register_module("post_attention_layernorm", RmsNorm(c.hidden_size, c.rms_norm_eps));
}

at::Tensor DecoderLayerImpl::forward(const at::Tensor& x, const RopeTables& rope, const at::Tensor& allowed,
                                     at::Tensor* cached_keys, at::Tensor* cached_values) {
  at::Tensor h = x + self_attn(input_layernorm(x), rope, allowed, cached_keys, cached_values);
  return h + mlp(post_attention_layernorm(h));
}

DecoderImpl::DecoderImpl(const ModelConfig& c) {
  embed_tokens = register_module("embed_tokens", torch::nn::Embedding(c.vocab_size, c.hidden_size));
  layers = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) layers->push_back(DecoderLayer(c));
  norm = register_module("norm", RmsNorm(c.hidden_size, c.rms_norm_eps));
}

CausalLmImpl::CausalLmImpl(const ModelConfig& config) : config_(config) {
  model = register_module("model", Decoder(config));
  if (!config.tie_word_embeddings) {
    lm_head = register_module("lm_head", Projection(config.hidden_size, config.vocab_size, false));
  }
}

at::Tensor CausalLmImpl::Hidden(const at::Tensor& input_ids, const ForwardOptions& options) {
  const int64_t batch = input_ids.size(0), seq = input_ids.size(1);
  const at::Device device = input_ids.device();
  KvCache* cache = options.cache;
  const int64_t past = cache != nullptr ? cache->length() : 0;
  if (cache != nullptr && cache->keys.empty()) {
    cache->keys.resize(static_cast<size_t>(config_.num_hidden_layers));
    cache->values.resize(static_cast<size_t>(config_.num_hidden_layers));
  }
  at::Tensor positions = options.position_ids;
  if (!positions.defined()) {
    positions = at::arange(past, past + seq, at::TensorOptions().dtype(at::kLong).device(device))
                    .unsqueeze(0)
                    .expand({batch, seq});
  }
  at::Tensor x = model->embed_tokens(input_ids);
  if (compute_dtype_) x = CastTo(x, *compute_dtype_);
  if (!inverse_frequencies_.defined() || inverse_frequencies_.device() != device) {
    inverse_frequencies_ = RopeInverseFrequencies(config_, device);
  }
  RopeTables rope = ComputeRope(inverse_frequencies_, positions, x.scalar_type());
  const bool plain_causal = past == 0 && !options.document_ids.defined() &&
                            (!config_.sliding_window || *config_.sliding_window >= seq);
  at::Tensor allowed;
  if (!plain_causal) allowed = AttentionMask(seq, past, config_.sliding_window, options.document_ids, device);
  if (options.checkpoint_layers && cache == nullptr && at::GradMode::is_enabled()) {
    // Gradients must flow into the checkpointed layers even when the embeddings are frozen.
    if (!x.requires_grad()) x = x.detach().requires_grad_(true);
    for (size_t i = 0; i < model->layers->size(); ++i) {
      DecoderLayerImpl* layer = model->layers[i]->as<DecoderLayer>();
      x = CheckpointedLayer::apply(x, layer, rope.cos, rope.sin, allowed.defined() ? allowed : at::empty({0}),
                                   DropoutGenerator(*layer));
    }
    return model->norm(x);
  }
  for (size_t i = 0; i < model->layers->size(); ++i) {
    at::Tensor* keys = cache != nullptr ? &cache->keys[i] : nullptr;
    at::Tensor* values = cache != nullptr ? &cache->values[i] : nullptr;
    x = model->layers[i]->as<DecoderLayer>()->forward(x, rope, allowed, keys, values);
  }
  return model->norm(x);
}

at::Tensor& CausalLmImpl::OutputWeight() { return lm_head ? lm_head->weight : model->embed_tokens->weight; }

at::Tensor CausalLmImpl::Logits(const at::Tensor& hidden) {
  if (lm_head) return lm_head(hidden);
  return at::matmul(hidden, CastTo(model->embed_tokens->weight, hidden.scalar_type()).t());
}

at::Tensor CausalLmImpl::forward(const at::Tensor& input_ids, const ForwardOptions& options) {
  return Logits(Hidden(input_ids, options));
}

}  // namespace gradients::train
