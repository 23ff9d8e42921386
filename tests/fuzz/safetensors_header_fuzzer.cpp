// Fuzzes the safetensors header parser with whole files. Besides "no crash, no sanitizer
// report", every header the parser accepts must satisfy the invariants the rest of the system
// relies on; a violation traps.
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/safetensors.h"

namespace {

void Require(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  gradients::common::SafetensorsLimits limits;
  limits.max_header_bytes = 1 << 20;
  auto header = gradients::common::ParseSafetensorsHeader(std::span(data, size), size, limits);
  if (!header.ok()) {
    Require(!header.status().message().empty());
    return 0;
  }
  // Accepted: the tensors tile the data section exactly, and each span fits its dtype and shape.
  Require(header->data_offset() <= size);
  uint64_t expected_begin = 0;
  for (const gradients::common::SafetensorsTensor& tensor : header->tensors) {
    Require(!tensor.name.empty());
    Require(tensor.shape.size() <= limits.max_rank);
    Require(tensor.data_begin == expected_begin);
    Require(tensor.data_begin <= tensor.data_end);
    uint64_t elements = 1;
    for (uint64_t dim : tensor.shape) elements *= dim;  // cannot overflow: the parser checked
    Require(elements * gradients::common::DTypeSize(tensor.dtype) == tensor.data_end - tensor.data_begin);
    Require(header->Find(tensor.name) != nullptr);
    expected_begin = tensor.data_end;
  }
  Require(header->data_offset() + expected_begin == size);
  return 0;
}
