#include "trainers/lora_training.h"

#include <algorithm>
#include <cmath>
#include <set>

#include <ATen/core/grad_mode.h>
#include <torch/types.h>

namespace gradients::train {
namespace {

std::string LeafName(const std::string& path) { return path.substr(path.rfind('.') + 1); }

// The projections an adapter may sit on: all but the output head (PEFT's default excludes it too).
std::map<std::string, ProjectionImpl*> AdaptableProjections(CausalLm& model) {
  std::map<std::string, ProjectionImpl*> projections;
  for (const auto& item : model->named_modules()) {
    auto* projection = dynamic_cast<ProjectionImpl*>(item.value().get());
    if (projection != nullptr && item.key() != "lm_head") projections[item.key()] = projection;
  }
  return projections;
}

void FreezeBase(CausalLm& model) {
  for (at::Tensor& parameter : model->parameters()) parameter.set_requires_grad(false);
}

double ScaleFor(double alpha, int64_t r, bool use_rslora) {
  return use_rslora ? alpha / std::sqrt(static_cast<double>(r)) : alpha / static_cast<double>(r);
}

}  // namespace

common::Status AttachLora(CausalLm& model, const LoraHyperparameters& options, const at::Generator& init_generator,
                  const at::Generator& dropout_generator) {
  std::map<std::string, ProjectionImpl*> projections = AdaptableProjections(model);
  std::set<std::string> names;
  for (const auto& [path, projection] : projections) names.insert(LeafName(path));
  for (const std::string& target : options.target_modules) {
    if (!names.contains(target)) {
      std::string known;
      for (const std::string& name : names) known += (known.empty() ? "" : ", ") + name;
      return common::Status::InvalidArgument("lora.target_modules: \"" + target + "\" is not a projection of this model (" +
                                     known + ")");
    }
  }
  FreezeBase(model);
  at::NoGradGuard no_grad;
  const double scale = ScaleFor(options.alpha, options.r, options.use_rslora);
  for (auto& [path, projection] : projections) {
    const auto& targets = options.target_modules;
    if (std::find(targets.begin(), targets.end(), LeafName(path)) == targets.end()) continue;
    const int64_t in = projection->weight.size(1), out = projection->weight.size(0);
    auto float_options = at::TensorOptions().dtype(at::kFloat);
    const double bound = 1.0 / std::sqrt(static_cast<double>(in));
    at::Generator draw = init_generator;
    at::Tensor a = at::empty({options.r, in}, float_options).uniform_(-bound, bound, draw);
    ProjectionImpl::Lora& lora = projection->lora;
    lora.a = a.to(projection->weight.device()).set_requires_grad(true);
    lora.b = at::zeros({out, options.r}, float_options.device(projection->weight.device())).set_requires_grad(true);
    lora.scale = scale;
    lora.dropout = options.dropout;
    lora.generator = dropout_generator;
  }
  return common::Status::Ok();
}

common::Status AttachLoraWeights(CausalLm& model, const LoraAdapter& adapter, double dropout,
                         const at::Generator& dropout_generator) {
  std::map<std::string, ProjectionImpl*> projections = AdaptableProjections(model);
  for (const auto& [module, weights] : adapter.modules) {
    auto found = projections.find(module);
    if (found == projections.end()) {
      return common::Status::InvalidArgument("adapter module \"" + module + "\" is not a projection of this model");
    }
    const at::Tensor& weight = found->second->weight;
    if (weights.a.size(1) != weight.size(1) || weights.b.size(0) != weight.size(0)) {
      return common::Status::InvalidArgument("adapter module \"" + module + "\" does not fit the weight's shape");
    }
  }
  FreezeBase(model);
  at::NoGradGuard no_grad;
  const double scale = adapter.config.Scale();
  for (const auto& [module, weights] : adapter.modules) {
    ProjectionImpl::Lora& lora = projections[module]->lora;
    const at::Device device = projections[module]->weight.device();
    lora.a = weights.a.to(device, at::kFloat, /*non_blocking=*/false, /*copy=*/true).set_requires_grad(true);
    lora.b = weights.b.to(device, at::kFloat, false, true).set_requires_grad(true);
    lora.scale = scale;
    lora.dropout = dropout;
    lora.generator = dropout_generator;
  }
  return common::Status::Ok();
}

std::map<std::string, ProjectionImpl*> LoraProjections(CausalLm& model) {
  std::map<std::string, ProjectionImpl*> attached;
  for (auto& [path, projection] : AdaptableProjections(model)) {
    if (projection->lora.a.defined()) attached[path] = projection;
  }
  return attached;
}

LoraAdapter ExtractLoraAdapter(CausalLm& model, const LoraAdapterConfig& config) {
  LoraAdapter adapter;
  adapter.config = config;
  for (auto& [path, projection] : LoraProjections(model)) {
    adapter.modules[path] = {projection->lora.a.detach().to(at::kCPU, at::kFloat, false, true),
                             projection->lora.b.detach().to(at::kCPU, at::kFloat, false, true)};
  }
  return adapter;
}

LoraAdapterConfig MakeLoraAdapterConfig(const LoraHyperparameters& options, const std::string& base_model) {
  LoraAdapterConfig config;
  config.r = options.r;
  config.lora_alpha = options.alpha;
  config.lora_dropout = options.dropout;
  config.use_rslora = options.use_rslora;
  config.target_modules = options.target_modules;
  config.base_model_name_or_path = base_model;
  return config;
}

}  // namespace gradients::train
