// AdamW (Loshchilov & Hutter), with torch.optim.AdamW's arithmetic, parameter groups and a state
// that checkpoints save and restore exactly. On CUDA with libtorch 2.x it runs PyTorch's fused
// multi-tensor kernel; elsewhere a single pass per float32 parameter (or per-tensor ops for other
// dtypes).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <ATen/ATen.h>

#include "common/status.h"

namespace gradients::train {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
};

struct ParameterGroup {
  std::vector<std::string> names{};      // for checkpoints and error messages
  std::vector<at::Tensor> parameters{};  // float32 master weights (or bfloat16, less exactly)
  double learning_rate_scale = 1;        // LoRA+ gives lora_B a larger one
  double weight_decay = 0;
};

class AdamW {
 public:
  AdamW(std::vector<ParameterGroup> groups, const AdamWOptions& options);

  // One update with `learning_rate` (times each group's scale) from the parameters' .grad();
  // parameters without a gradient are left alone.
  void Step(double learning_rate);
  void ZeroGrad();

  int64_t steps() const { return steps_; }
  const std::vector<ParameterGroup>& groups() const { return groups_; }

  // "<name>.exp_avg" and "<name>.exp_avg_sq" for every parameter (moments are created lazily, so
  // before the first step this is empty).
  std::map<std::string, at::Tensor> StateTensors() const;
  // Restores what StateTensors returned after `steps` updates; every tensor must be present with
  // its parameter's shape.
  common::Status LoadState(const std::map<std::string, at::Tensor>& tensors, int64_t steps);

 private:
  void EnsureMoments();

  std::vector<ParameterGroup> groups_;
  AdamWOptions options_;
  int64_t steps_ = 0;
  // Parallel to groups_[g].parameters.
  std::vector<std::vector<at::Tensor>> exp_avg_, exp_avg_sq_;
};

}  // namespace gradients::train
