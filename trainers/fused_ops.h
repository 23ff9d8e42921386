// The training step's fused CUDA kernels (trainers/cuda_kernels.h) as autograd functions, used by
// the model (trainers/causal_lm.cpp) in place of ATen's chains of elementwise kernels when the
// build has them and the activations are on a GPU.
#pragma once

#include <ATen/ATen.h>

#include <array>

#include "trainers/rope.h"

namespace gradients::train {

// Whether the fused kernels are built in and apply to `x`: a CUDA tensor of float32, bfloat16 or
// float16. GRADIENTS_FUSED_KERNELS=0 in the environment switches them off (to compare, or to rule
// them out), read once.
bool FusedKernelsApply(const at::Tensor& x);

// q, k and v [batch, heads, seq, head_dim] (k and v with kv_heads) from the joint q/k/v projection
// output [batch, seq, (heads + 2 kv_heads) * head_dim], q and k rotated by `rope`: one pass
// forward, one backward (which writes the joint output's gradient). The outputs are views of
// [batch, seq, heads, head_dim] tensors of their own, the layout attention's kernels read.
std::array<at::Tensor, 3> FusedRopeQkv(const at::Tensor& qkv, const RopeTables& rope, int64_t heads, int64_t kv_heads,
                                       int64_t head_dim);

// silu(gate) * up over the joint gate/up output [..., 2 * intermediate]: one pass each way.
at::Tensor FusedSwiGlu(const at::Tensor& gate_up);

}  // namespace gradients::train
