#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "trainers/cuda_kernels.h"

namespace gradients::train::cuda_kernels {
namespace {

// Arithmetic is in float32; each output is rounded once to its type (round to nearest even).
template <typename T>
__device__ __forceinline__ float ToFloat(T value);
template <>
__device__ __forceinline__ float ToFloat(float value) {
  return value;
}
template <>
__device__ __forceinline__ float ToFloat(__nv_bfloat16 value) {
  return __bfloat162float(value);
}
template <>
__device__ __forceinline__ float ToFloat(__half value) {
  return __half2float(value);
}

template <typename T>
__device__ __forceinline__ T FromFloat(float value);
template <>
__device__ __forceinline__ float FromFloat(float value) {
  return value;
}
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat(float value) {
  return __float2bfloat16_rn(value);
}
template <>
__device__ __forceinline__ __half FromFloat(float value) {
  return __float2half_rn(value);
}

// N consecutive elements moved as one access (16 bytes for 8 bfloat16 or 4 float32 values).
template <typename T, int N>
struct alignas(sizeof(T) * N) Pack {
  T values[N];
};

template <typename T, int N>
__device__ __forceinline__ void Load(const T* source, float (&out)[N]) {
  const Pack<T, N> pack = *reinterpret_cast<const Pack<T, N>*>(source);
#pragma unroll
  for (int i = 0; i < N; ++i) out[i] = ToFloat(pack.values[i]);
}

template <typename T, int N>
__device__ __forceinline__ void Store(T* destination, const float (&in)[N]) {
  Pack<T, N> pack;
#pragma unroll
  for (int i = 0; i < N; ++i) pack.values[i] = FromFloat<T>(in[i]);
  *reinterpret_cast<Pack<T, N>*>(destination) = pack;
}

// Each thread handles N elements of one head's first half and the N matching elements of its
// second half; consecutive threads take consecutive chunks, heads, then tokens, so a warp reads
// and writes contiguous memory.
template <typename T, int N>
__global__ void RopeQkvKernel(RopeQkvArgs args) {
  const int64_t half = args.head_dim / 2;
  const int64_t chunks = half / N;
  const int64_t slots = args.parts[0].heads + args.parts[1].heads + args.parts[2].heads;
  const int64_t items = args.batch * args.seq * slots * chunks;
  const T* cos = static_cast<const T*>(args.cos);
  const T* sin = static_cast<const T*>(args.sin);
  for (int64_t item = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; item < items;
       item += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t chunk = item % chunks;
    int64_t head = (item / chunks) % slots;
    const int64_t token = item / (chunks * slots);
    const int64_t b = token / args.seq, s = token % args.seq;
    int part_index = 0;
    while (head >= args.parts[part_index].heads) head -= args.parts[part_index++].heads;
    const RopePart& part = args.parts[part_index];
    const int64_t i = chunk * N;
    const T* source = static_cast<const T*>(part.source) + b * part.source_batch_stride + s * part.source_seq_stride +
                      head * part.source_head_stride + i;
    T* destination = static_cast<T*>(part.destination) + b * part.destination_batch_stride +
                     s * part.destination_seq_stride + head * part.destination_head_stride + i;
    float x1[N], x2[N];
    Load<T, N>(source, x1);
    Load<T, N>(source + half, x2);
    if (!part.rotate) {
      Store<T, N>(destination, x1);
      Store<T, N>(destination + half, x2);
      continue;
    }
    const int64_t table = b * args.cos_batch_stride + s * args.cos_seq_stride + i;
    float c1[N], c2[N], s1[N], s2[N];
    Load<T, N>(cos + table, c1);
    Load<T, N>(cos + table + half, c2);
    Load<T, N>(sin + table, s1);
    Load<T, N>(sin + table + half, s2);
    float y1[N], y2[N];
#pragma unroll
    for (int j = 0; j < N; ++j) {
      // Forward: y1 = x1 c1 - x2 s1, y2 = x2 c2 + x1 s2.
      // Backward: dx1 = g1 c1 + g2 s2, dx2 = g2 c2 - g1 s1.
      const float m1 = args.backward ? s2[j] : -s1[j];
      const float m2 = args.backward ? -s1[j] : s2[j];
      y1[j] = x1[j] * c1[j] + x2[j] * m1;
      y2[j] = x2[j] * c2[j] + x1[j] * m2;
    }
    Store<T, N>(destination, y1);
    Store<T, N>(destination + half, y2);
  }
}

__device__ __forceinline__ float Sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }

template <typename T, int N>
__global__ void SwiGluForwardKernel(const T* gate_up, T* out, int64_t rows, int64_t width) {
  const int64_t chunks = width / N;
  const int64_t items = rows * chunks;
  for (int64_t item = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; item < items;
       item += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = item / chunks, column = (item % chunks) * N;
    const T* in = gate_up + row * 2 * width + column;
    float gate[N], up[N], y[N];
    Load<T, N>(in, gate);
    Load<T, N>(in + width, up);
#pragma unroll
    for (int j = 0; j < N; ++j) y[j] = gate[j] * Sigmoid(gate[j]) * up[j];
    Store<T, N>(out + row * width + column, y);
  }
}

template <typename T, int N>
__global__ void SwiGluBackwardKernel(const T* gate_up, const T* grad, T* grad_gate_up, int64_t rows, int64_t width) {
  const int64_t chunks = width / N;
  const int64_t items = rows * chunks;
  for (int64_t item = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; item < items;
       item += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = item / chunks, column = (item % chunks) * N;
    const T* in = gate_up + row * 2 * width + column;
    float gate[N], up[N], g[N], grad_gate[N], grad_up[N];
    Load<T, N>(in, gate);
    Load<T, N>(in + width, up);
    Load<T, N>(grad + row * width + column, g);
#pragma unroll
    for (int j = 0; j < N; ++j) {
      // silu'(x) = s (1 + x (1 - s)) with s = sigmoid(x).
      const float s = Sigmoid(gate[j]);
      grad_gate[j] = g[j] * up[j] * s * (1.0f + gate[j] * (1.0f - s));
      grad_up[j] = g[j] * gate[j] * s;
    }
    T* out = grad_gate_up + row * 2 * width + column;
    Store<T, N>(out, grad_gate);
    Store<T, N>(out + width, grad_up);
  }
}

constexpr int kThreads = 256;

// Enough blocks for every item up to a cap; the kernels loop over the rest.
unsigned Blocks(int64_t items) {
  constexpr int64_t kMaxBlocks = 65536;
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>((items + kThreads - 1) / kThreads, kMaxBlocks)));
}

void CheckLaunch(const char* kernel) {
  const cudaError_t error = cudaGetLastError();
  if (error != cudaSuccess) throw std::runtime_error(std::string(kernel) + ": " + cudaGetErrorString(error));
}

bool Aligned(const void* pointer, int64_t bytes) { return reinterpret_cast<uintptr_t>(pointer) % bytes == 0; }

// The widest access (up to 16 bytes) that every offset (in elements) and every pointer allows.
template <typename T>
int VectorWidth(const std::vector<int64_t>& offsets, const std::vector<const void*>& pointers) {
  int width = static_cast<int>(16 / sizeof(T));
  for (; width > 1; width /= 2) {
    bool fits = true;
    for (int64_t offset : offsets) fits = fits && offset % width == 0;
    for (const void* pointer : pointers) fits = fits && Aligned(pointer, width * static_cast<int64_t>(sizeof(T)));
    if (fits) break;
  }
  return width;
}

// Calls launch(std::integral_constant<int, width>{}) for a width of 8, 4, 2 or 1.
template <typename Launch>
void WithWidth(int width, Launch launch) {
  switch (width) {
    case 8:
      launch(std::integral_constant<int, 8>{});
      break;
    case 4:
      launch(std::integral_constant<int, 4>{});
      break;
    case 2:
      launch(std::integral_constant<int, 2>{});
      break;
    default:
      launch(std::integral_constant<int, 1>{});
  }
}

template <typename T>
void RopeQkvTyped(const RopeQkvArgs& args, cudaStream_t stream) {
  std::vector<int64_t> offsets = {args.head_dim / 2, args.cos_batch_stride, args.cos_seq_stride};
  std::vector<const void*> pointers = {args.cos, args.sin};
  for (const RopePart& part : args.parts) {
    offsets.insert(offsets.end(),
                   {part.source_batch_stride, part.source_seq_stride, part.source_head_stride,
                    part.destination_batch_stride, part.destination_seq_stride, part.destination_head_stride});
    pointers.push_back(part.source);
    pointers.push_back(part.destination);
  }
  const int width = VectorWidth<T>(offsets, pointers);
  const int64_t slots = args.parts[0].heads + args.parts[1].heads + args.parts[2].heads;
  const int64_t items = args.batch * args.seq * slots * (args.head_dim / 2 / width);
  if (items == 0) return;
  WithWidth(width, [&](auto n) { RopeQkvKernel<T, decltype(n)::value><<<Blocks(items), kThreads, 0, stream>>>(args); });
  CheckLaunch("RoPE kernel");
}

template <typename T>
void SwiGluForwardTyped(const void* gate_up, void* out, int64_t rows, int64_t width, cudaStream_t stream) {
  const int n = VectorWidth<T>({width}, {gate_up, out});
  const int64_t items = rows * (width / n);
  if (items == 0) return;
  WithWidth(n, [&](auto v) {
    SwiGluForwardKernel<T, decltype(v)::value>
        <<<Blocks(items), kThreads, 0, stream>>>(static_cast<const T*>(gate_up), static_cast<T*>(out), rows, width);
  });
  CheckLaunch("SwiGLU kernel");
}

template <typename T>
void SwiGluBackwardTyped(const void* gate_up, const void* grad, void* grad_gate_up, int64_t rows, int64_t width,
                         cudaStream_t stream) {
  const int n = VectorWidth<T>({width}, {gate_up, grad, grad_gate_up});
  const int64_t items = rows * (width / n);
  if (items == 0) return;
  WithWidth(n, [&](auto v) {
    SwiGluBackwardKernel<T, decltype(v)::value><<<Blocks(items), kThreads, 0, stream>>>(
        static_cast<const T*>(gate_up), static_cast<const T*>(grad), static_cast<T*>(grad_gate_up), rows, width);
  });
  CheckLaunch("SwiGLU backward kernel");
}

// Calls typed(T{}) with the element type's T.
template <typename Typed>
void WithType(ElementType type, Typed typed) {
  switch (type) {
    case ElementType::kFloat32:
      typed(float{});
      break;
    case ElementType::kBFloat16:
      typed(__nv_bfloat16{});
      break;
    case ElementType::kFloat16:
      typed(__half{});
      break;
  }
}

}  // namespace

void RopeQkv(ElementType type, const RopeQkvArgs& args, void* stream) {
  WithType(type, [&](auto zero) { RopeQkvTyped<decltype(zero)>(args, static_cast<cudaStream_t>(stream)); });
}

void SwiGluForward(ElementType type, const void* gate_up, void* out, int64_t rows, int64_t width, void* stream) {
  WithType(type, [&](auto zero) {
    SwiGluForwardTyped<decltype(zero)>(gate_up, out, rows, width, static_cast<cudaStream_t>(stream));
  });
}

void SwiGluBackward(ElementType type, const void* gate_up, const void* grad, void* grad_gate_up, int64_t rows,
                    int64_t width, void* stream) {
  WithType(type, [&](auto zero) {
    SwiGluBackwardTyped<decltype(zero)>(gate_up, grad, grad_gate_up, rows, width, static_cast<cudaStream_t>(stream));
  });
}

}  // namespace gradients::train::cuda_kernels
