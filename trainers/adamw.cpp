#include "trainers/adamw.h"

#include <cmath>

#include <ATen/core/grad_mode.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

namespace gradients::train {
namespace {

// torch.optim.AdamW's single-tensor update in one pass over float32 memory:
//   p -= lr * wd * p;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
//   p -= (lr / bc1) * m / (sqrt(v) / sqrt(bc2) + eps)
void FusedCpuUpdate(at::Tensor& parameter, const at::Tensor& gradient, at::Tensor& exp_avg, at::Tensor& exp_avg_sq,
                    double lr, double weight_decay, double beta1, double beta2, double epsilon,
                    double bias_correction1, double bias_correction2) {
  float* p = parameter.data_ptr<float>();
  const at::Tensor g_contiguous = gradient.contiguous();
  const float* g = g_contiguous.data_ptr<float>();
  float* m = exp_avg.data_ptr<float>();
  float* v = exp_avg_sq.data_ptr<float>();
  const float decay = static_cast<float>(1.0 - lr * weight_decay);
  const float b1 = static_cast<float>(beta1), b2 = static_cast<float>(beta2);
  const float step_size = static_cast<float>(lr / bias_correction1);
  const float inverse_root_bc2 = static_cast<float>(1.0 / std::sqrt(bias_correction2));
  const float eps = static_cast<float>(epsilon);
  at::parallel_for(0, parameter.numel(), 16384, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const float grad = g[i];
      const float mean = m[i] + (grad - m[i]) * (1.0f - b1);  // torch uses lerp
      const float variance = v[i] * b2 + (1.0f - b2) * grad * grad;
      m[i] = mean;
      v[i] = variance;
      p[i] = p[i] * decay - step_size * mean / (std::sqrt(variance) * inverse_root_bc2 + eps);
    }
  });
}

void TensorOpsUpdate(at::Tensor& parameter, const at::Tensor& gradient, at::Tensor& exp_avg, at::Tensor& exp_avg_sq,
                     double lr, double weight_decay, double beta1, double beta2, double epsilon,
                     double bias_correction1, double bias_correction2) {
  const at::Tensor grad = gradient.to(exp_avg.scalar_type());
  parameter.mul_(1.0 - lr * weight_decay);
  exp_avg.lerp_(grad, 1.0 - beta1);
  exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1.0 - beta2);
  at::Tensor denominator = (exp_avg_sq.sqrt() / std::sqrt(bias_correction2)).add_(epsilon);
  parameter.addcdiv_(exp_avg.to(parameter.scalar_type()), denominator.to(parameter.scalar_type()),
                     -lr / bias_correction1);
}

}  // namespace

AdamW::AdamW(std::vector<ParameterGroup> groups, const AdamWOptions& options)
    : groups_(std::move(groups)), options_(options) {}

void AdamW::EnsureMoments() {
  if (!exp_avg_.empty()) return;
  for (const ParameterGroup& group : groups_) {
    std::vector<at::Tensor> means, variances;
    for (const at::Tensor& parameter : group.parameters) {
      // Moments in float32 whatever the parameter's dtype: bfloat16 moments lose small updates.
      means.push_back(at::zeros_like(parameter, parameter.options().dtype(at::kFloat)));
      variances.push_back(at::zeros_like(parameter, parameter.options().dtype(at::kFloat)));
    }
    exp_avg_.push_back(std::move(means));
    exp_avg_sq_.push_back(std::move(variances));
  }
}

void AdamW::Step(double learning_rate) {
  at::NoGradGuard no_grad;
  EnsureMoments();
  ++steps_;
  const double bias_correction1 = 1.0 - std::pow(options_.beta1, static_cast<double>(steps_));
  const double bias_correction2 = 1.0 - std::pow(options_.beta2, static_cast<double>(steps_));
  for (size_t g = 0; g < groups_.size(); ++g) {
    ParameterGroup& group = groups_[g];
    const double lr = learning_rate * group.learning_rate_scale;
#if TORCH_VERSION_MAJOR >= 2
    // PyTorch's fused kernel: one launch for the group, no host synchronisation. It reads each
    // parameter's step count from a device tensor; ours is exact on the host, and one tensor built
    // from it serves the whole group.
    std::vector<at::Tensor> params, grads, means, variances, steps;
    at::Tensor step;
    for (size_t i = 0; i < group.parameters.size(); ++i) {
      at::Tensor& parameter = group.parameters[i];
      if (!parameter.is_cuda() || parameter.scalar_type() != at::kFloat || !parameter.grad().defined()) continue;
      params.push_back(parameter);
      grads.push_back(parameter.grad());
      means.push_back(exp_avg_[g][i]);
      variances.push_back(exp_avg_sq_[g][i]);
      if (!step.defined()) step = at::full({}, static_cast<double>(steps_), parameter.options());
      steps.push_back(step);
    }
    if (!params.empty()) {
      const std::vector<at::Tensor> no_max_exp_avg_sqs;  // amsgrad is off
      at::_fused_adamw_(params, grads, means, variances, no_max_exp_avg_sqs, steps, lr, options_.beta1, options_.beta2,
                        group.weight_decay, options_.epsilon, /*amsgrad=*/false, /*maximize=*/false);
    }
#endif
    for (size_t i = 0; i < group.parameters.size(); ++i) {
      at::Tensor& parameter = group.parameters[i];
      const at::Tensor& grad = parameter.grad();
      if (!grad.defined()) continue;
#if TORCH_VERSION_MAJOR >= 2
      if (parameter.is_cuda() && parameter.scalar_type() == at::kFloat) continue;  // done above
#endif
      if (parameter.device().is_cpu() && parameter.scalar_type() == at::kFloat && parameter.is_contiguous() &&
          grad.scalar_type() == at::kFloat) {
        FusedCpuUpdate(parameter, grad, exp_avg_[g][i], exp_avg_sq_[g][i], lr, group.weight_decay, options_.beta1,
                       options_.beta2, options_.epsilon, bias_correction1, bias_correction2);
      } else {
        TensorOpsUpdate(parameter, grad, exp_avg_[g][i], exp_avg_sq_[g][i], lr, group.weight_decay, options_.beta1,
                        options_.beta2, options_.epsilon, bias_correction1, bias_correction2);
      }
    }
  }
}

void AdamW::ZeroGrad() {
  for (ParameterGroup& group : groups_) {
    for (at::Tensor& parameter : group.parameters) {
      // Dropping the gradient (set_to_none) saves a pass and lets the next backward write it fresh.
      if (parameter.grad().defined()) parameter.mutable_grad() = at::Tensor();
    }
  }
}

std::map<std::string, at::Tensor> AdamW::StateTensors() const {
  std::map<std::string, at::Tensor> tensors;
  for (size_t g = 0; g < exp_avg_.size(); ++g) {
    for (size_t i = 0; i < exp_avg_[g].size(); ++i) {
      tensors[groups_[g].names[i] + ".exp_avg"] = exp_avg_[g][i];
      tensors[groups_[g].names[i] + ".exp_avg_sq"] = exp_avg_sq_[g][i];
    }
  }
  return tensors;
}

common::Status AdamW::LoadState(const std::map<std::string, at::Tensor>& tensors, int64_t steps) {
  if (steps < 0) return common::Status::InvalidArgument("optimizer steps must not be negative");
  steps_ = steps;
  exp_avg_.clear();
  exp_avg_sq_.clear();
  if (steps == 0) return common::Status::Ok();
  EnsureMoments();
  at::NoGradGuard no_grad;
  for (size_t g = 0; g < groups_.size(); ++g) {
    for (size_t i = 0; i < groups_[g].parameters.size(); ++i) {
      for (auto [suffix, moments] : {std::pair{".exp_avg", &exp_avg_}, std::pair{".exp_avg_sq", &exp_avg_sq_}}) {
        const std::string name = groups_[g].names[i] + suffix;
        auto found = tensors.find(name);
        at::Tensor& target = (*moments)[g][i];
        if (found == tensors.end()) return common::Status::InvalidArgument("optimizer state lacks \"" + name + "\"");
        if (!found->second.sizes().equals(target.sizes())) {
          return common::Status::InvalidArgument("optimizer state \"" + name + "\" has the wrong shape");
        }
        target.copy_(found->second);
      }
    }
  }
  return common::Status::Ok();
}

}  // namespace gradients::train
