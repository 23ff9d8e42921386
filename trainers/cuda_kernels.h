// Fused CUDA kernels for the training step's elementwise work between the matrix products: RoPE
// on the joint q/k/v output and SwiGLU on the joint gate/up output, forward and backward. ATen
// runs each of these as several kernels over strided views (each a full pass over memory); one
// kernel reads its inputs once and writes its outputs once. Built only when libtorch has CUDA
// (trainers/CMakeLists.txt); trainers/fused_ops.h wraps them as autograd functions.
//
// Plain pointers and sizes: this header is compiled by nvcc and by the C++ compiler, and needs
// neither libtorch nor CUDA's headers. Each function launches on `stream` (a cudaStream_t) and
// throws std::runtime_error if the launch fails.
#pragma once

#include <cstdint>

namespace gradients::train::cuda_kernels {

enum class ElementType { kFloat32, kBFloat16, kFloat16 };

// One of q, k, v: where its [batch, seq, heads, head_dim] elements are read and written
// (strides in elements; head_dim is contiguous on both sides).
struct RopePart {
  const void* source = nullptr;
  void* destination = nullptr;
  int64_t source_batch_stride = 0, source_seq_stride = 0, source_head_stride = 0;
  int64_t destination_batch_stride = 0, destination_seq_stride = 0, destination_head_stride = 0;
  int64_t heads = 0;
  bool rotate = true;  // q and k are rotated, v is copied
};

struct RopeQkvArgs {
  RopePart parts[3];          // q, k, v
  const void* cos = nullptr;  // [batch, seq, head_dim] with the strides below
  const void* sin = nullptr;  // (batch stride 0 when every row has the same positions)
  int64_t cos_batch_stride = 0, cos_seq_stride = 0;
  int64_t batch = 0, seq = 0, head_dim = 0;  // head_dim even
  // Forward: x cos + rotate_half(x) sin. Backward (the sources are the gradients of the outputs):
  // g cos + rotate_half^T(g sin).
  bool backward = false;
};

void RopeQkv(ElementType type, const RopeQkvArgs& args, void* stream);

// out[r, j] = silu(gate_up[r, j]) * gate_up[r, width + j] for gate_up [rows, 2 * width], out [rows,
// width], both contiguous.
void SwiGluForward(ElementType type, const void* gate_up, void* out, int64_t rows, int64_t width, void* stream);

// The gradient of the above for the gradient `grad` [rows, width] of its output, written as one
// [rows, 2 * width] tensor (the gate's half, then the up half).
void SwiGluBackward(ElementType type, const void* gate_up, const void* grad, void* grad_gate_up, int64_t rows,
                    int64_t width, void* stream);

}  // namespace gradients::train::cuda_kernels
