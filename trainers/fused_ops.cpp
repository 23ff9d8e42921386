#include "trainers/fused_ops.h"

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/autograd.h>

#include <cstdlib>
#include <optional>
#include <string_view>

#include "trainers/cuda_kernels.h"

namespace gradients::train {
namespace {

std::optional<cuda_kernels::ElementType> ElementTypeOf(at::ScalarType type) {
  switch (type) {
    case at::kFloat:
      return cuda_kernels::ElementType::kFloat32;
    case at::kBFloat16:
      return cuda_kernels::ElementType::kBFloat16;
    case at::kHalf:
      return cuda_kernels::ElementType::kFloat16;
    default:
      return std::nullopt;
  }
}

void* CurrentStream(const at::Tensor& tensor) {
  return c10::cuda::getCurrentCUDAStream(tensor.device().index()).stream();
}

// A [batch, heads, seq, head_dim] tensor's strides as a RoPE part's source or destination.
struct HeadStrides {
  int64_t batch, seq, head;
};

HeadStrides StridesOf(const at::Tensor& bhsd) { return {bhsd.stride(0), bhsd.stride(2), bhsd.stride(1)}; }

cuda_kernels::RopePart Part(const void* source, HeadStrides from, void* destination, HeadStrides to, int64_t heads,
                            bool rotate) {
  cuda_kernels::RopePart part;
  part.source = source;
  part.destination = destination;
  part.source_batch_stride = from.batch;
  part.source_seq_stride = from.seq;
  part.source_head_stride = from.head;
  part.destination_batch_stride = to.batch;
  part.destination_seq_stride = to.seq;
  part.destination_head_stride = to.head;
  part.heads = heads;
  part.rotate = rotate;
  return part;
}

// cos/sin [batch, 1, seq, head_dim] with head_dim contiguous.
void SetTables(cuda_kernels::RopeQkvArgs& args, const at::Tensor& cos, const at::Tensor& sin) {
  args.cos = cos.data_ptr();
  args.sin = sin.data_ptr();
  args.cos_batch_stride = cos.size(0) == 1 ? 0 : cos.stride(0);
  args.cos_seq_stride = cos.stride(2);
}

at::Tensor HeadDimContiguous(const at::Tensor& tensor) { return tensor.stride(-1) == 1 ? tensor : tensor.contiguous(); }

class RopeQkvFunction : public torch::autograd::Function<RopeQkvFunction> {
 public:
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* context, const at::Tensor& qkv,
                                                const at::Tensor& cos, const at::Tensor& sin, int64_t heads,
                                                int64_t kv_heads) {
    const c10::cuda::CUDAGuard guard(qkv.device());
    const int64_t batch = qkv.size(0), seq = qkv.size(1);
    const int64_t head_dim = qkv.size(2) / (heads + 2 * kv_heads);
    const at::Tensor input = qkv.contiguous();
    const at::Tensor cos_table = HeadDimContiguous(cos), sin_table = HeadDimContiguous(sin);
    context->save_for_backward({cos_table, sin_table});
    context->saved_data["heads"] = heads;
    context->saved_data["kv_heads"] = kv_heads;
    // Outputs in [batch, seq, heads, head_dim] memory, seen as [batch, heads, seq, head_dim].
    at::Tensor q = at::empty({batch, seq, heads, head_dim}, qkv.options()).transpose(1, 2);
    at::Tensor k = at::empty({batch, seq, kv_heads, head_dim}, qkv.options()).transpose(1, 2);
    at::Tensor v = at::empty({batch, seq, kv_heads, head_dim}, qkv.options()).transpose(1, 2);
    const HeadStrides joint{input.stride(0), input.stride(1), head_dim};
    const auto* base = static_cast<const char*>(input.data_ptr());
    const int64_t element = input.element_size();
    cuda_kernels::RopeQkvArgs args;
    args.parts[0] = Part(base, joint, q.data_ptr(), StridesOf(q), heads, true);
    args.parts[1] = Part(base + heads * head_dim * element, joint, k.data_ptr(), StridesOf(k), kv_heads, true);
    args.parts[2] =
        Part(base + (heads + kv_heads) * head_dim * element, joint, v.data_ptr(), StridesOf(v), kv_heads, false);
    SetTables(args, cos_table, sin_table);
    args.batch = batch;
    args.seq = seq;
    args.head_dim = head_dim;
    cuda_kernels::RopeQkv(*ElementTypeOf(qkv.scalar_type()), args, CurrentStream(qkv));
    return {q, k, v};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto saved = context->get_saved_variables();
    const int64_t heads = context->saved_data["heads"].toInt();
    const int64_t kv_heads = context->saved_data["kv_heads"].toInt();
    const at::Tensor grad_q = HeadDimContiguous(grad_outputs[0]);
    const at::Tensor grad_k = HeadDimContiguous(grad_outputs[1]);
    const at::Tensor grad_v = HeadDimContiguous(grad_outputs[2]);
    const c10::cuda::CUDAGuard guard(grad_q.device());
    const int64_t batch = grad_q.size(0), seq = grad_q.size(2), head_dim = grad_q.size(3);
    at::Tensor grad_qkv = at::empty({batch, seq, (heads + 2 * kv_heads) * head_dim}, grad_q.options());
    const HeadStrides joint{grad_qkv.stride(0), grad_qkv.stride(1), head_dim};
    auto* base = static_cast<char*>(grad_qkv.data_ptr());
    const int64_t element = grad_qkv.element_size();
    cuda_kernels::RopeQkvArgs args;
    args.parts[0] = Part(grad_q.data_ptr(), StridesOf(grad_q), base, joint, heads, true);
    args.parts[1] =
        Part(grad_k.data_ptr(), StridesOf(grad_k), base + heads * head_dim * element, joint, kv_heads, true);
    args.parts[2] = Part(grad_v.data_ptr(), StridesOf(grad_v), base + (heads + kv_heads) * head_dim * element, joint,
                         kv_heads, false);
    SetTables(args, saved[0], saved[1]);
    args.batch = batch;
    args.seq = seq;
    args.head_dim = head_dim;
    args.backward = true;
    cuda_kernels::RopeQkv(*ElementTypeOf(grad_qkv.scalar_type()), args, CurrentStream(grad_qkv));
    return {grad_qkv, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

class SwiGluFunction : public torch::autograd::Function<SwiGluFunction> {
 public:
  static at::Tensor forward(torch::autograd::AutogradContext* context, const at::Tensor& gate_up) {
    const c10::cuda::CUDAGuard guard(gate_up.device());
    const at::Tensor input = gate_up.contiguous();
    context->save_for_backward({input});
    const int64_t width = input.size(-1) / 2;
    std::vector<int64_t> shape(input.sizes().begin(), input.sizes().end());
    shape.back() = width;
    at::Tensor out = at::empty(shape, input.options());
    cuda_kernels::SwiGluForward(*ElementTypeOf(input.scalar_type()), input.data_ptr(), out.data_ptr(),
                                input.numel() / input.size(-1), width, CurrentStream(input));
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list grad_outputs) {
    const at::Tensor gate_up = context->get_saved_variables()[0];
    const c10::cuda::CUDAGuard guard(gate_up.device());
    const at::Tensor grad = grad_outputs[0].contiguous();
    at::Tensor grad_gate_up = at::empty_like(gate_up);
    const int64_t width = gate_up.size(-1) / 2;
    cuda_kernels::SwiGluBackward(*ElementTypeOf(gate_up.scalar_type()), gate_up.data_ptr(), grad.data_ptr(),
                                 grad_gate_up.data_ptr(), gate_up.numel() / gate_up.size(-1), width,
                                 CurrentStream(gate_up));
    return {grad_gate_up};
  }
};

bool FusedKernelsSwitchedOn() {
  static const bool on = [] {
    const char* setting = std::getenv("GRADIENTS_FUSED_KERNELS");
    return setting == nullptr || std::string_view(setting) != "0";
  }();
  return on;
}

}  // namespace

bool FusedKernelsApply(const at::Tensor& x) {
  return x.is_cuda() && ElementTypeOf(x.scalar_type()).has_value() && FusedKernelsSwitchedOn();
}

std::array<at::Tensor, 3> FusedRopeQkv(const at::Tensor& qkv, const RopeTables& rope, int64_t heads, int64_t kv_heads,
                                       int64_t head_dim) {
  TORCH_CHECK(qkv.dim() == 3 && qkv.size(2) == (heads + 2 * kv_heads) * head_dim && head_dim % 2 == 0,
              "FusedRopeQkv: the joint q/k/v output has shape ", qkv.sizes());
  TORCH_CHECK(rope.cos.scalar_type() == qkv.scalar_type() && rope.cos.size(-1) == head_dim,
              "FusedRopeQkv: the RoPE tables do not match the activations");
  const torch::autograd::variable_list outputs = RopeQkvFunction::apply(qkv, rope.cos, rope.sin, heads, kv_heads);
  return {outputs[0], outputs[1], outputs[2]};
}

at::Tensor FusedSwiGlu(const at::Tensor& gate_up) { return SwiGluFunction::apply(gate_up); }

}  // namespace gradients::train
