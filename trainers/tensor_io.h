// Tensors to and from safetensors files: the one place that maps safetensors dtypes to torch's.
#pragma once

#include <string>

#include <ATen/ATen.h>

#include "common/safetensors.h"

namespace gradients::train {

// A tensor over `tensor`'s bytes in `file` (no copy: it lives as long as the mapping; clone() to
// keep it). Only weight dtypes are accepted: F32, F16 and BF16; other dtypes are an error naming the
// tensor.
common::Result<at::Tensor> WeightView(const common::SafetensorsFile& file, const common::SafetensorsTensor& tensor);

// Adds a CPU copy of `tensor` (float32, float16, bfloat16 or int64) to `writer` under `name`.
common::Status AddTensor(common::SafetensorsWriter& writer, const std::string& name, const at::Tensor& tensor);

}  // namespace gradients::train
