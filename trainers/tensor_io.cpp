#include "trainers/tensor_io.h"

#include <vector>

namespace gradients::train {

common::Result<at::Tensor> WeightView(const common::SafetensorsFile& file, const common::SafetensorsTensor& tensor) {
  at::ScalarType dtype;
  switch (tensor.dtype) {
    case common::DType::kF32: dtype = at::kFloat; break;
    case common::DType::kF16: dtype = at::kHalf; break;
    case common::DType::kBF16: dtype = at::kBFloat16; break;
    default:
      return common::Status::InvalidArgument("tensor \"" + tensor.name + "\": dtype " + std::string(common::DTypeName(tensor.dtype)) +
                                     " is not a weight dtype (expected F32, F16 or BF16)");
  }
  std::vector<int64_t> shape(tensor.shape.begin(), tensor.shape.end());
  // The mapping is read-only; nothing writes through this tensor (callers copy from it).
  return at::from_blob(const_cast<uint8_t*>(file.Data(tensor).data()), shape, at::TensorOptions().dtype(dtype));
}

common::Status AddTensor(common::SafetensorsWriter& writer, const std::string& name, const at::Tensor& tensor) {
  common::DType dtype;
  switch (tensor.scalar_type()) {
    case at::kFloat: dtype = common::DType::kF32; break;
    case at::kHalf: dtype = common::DType::kF16; break;
    case at::kBFloat16: dtype = common::DType::kBF16; break;
    case at::kLong: dtype = common::DType::kI64; break;
    default: return common::Status::InvalidArgument("tensor \"" + name + "\": unsupported dtype for safetensors");
  }
  at::Tensor cpu = tensor.detach().to(at::kCPU).contiguous();
  std::vector<uint64_t> shape(cpu.sizes().begin(), cpu.sizes().end());
  return writer.Add(name, dtype, shape, std::span(static_cast<const uint8_t*>(cpu.data_ptr()), cpu.nbytes()));
}

}  // namespace gradients::train
