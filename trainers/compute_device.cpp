#include "trainers/compute_device.h"

#include <charconv>

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

namespace gradients::train {

void ConfigureCpuThreads(int requested) {
  const int threads = requested > 0 ? requested : at::hasMKL() ? 0 : 1;
  if (threads > 0) at::set_num_threads(threads);
}

common::Result<c10::Device> ResolveComputeDevice(std::string_view name) {
  if (name == "cpu") return c10::Device(c10::kCPU);
  if (name == "auto") return torch::cuda::is_available() ? c10::Device(c10::kCUDA, 0) : c10::Device(c10::kCPU);
  if (name != "cuda" && !name.starts_with("cuda:")) {
    return common::Status::InvalidArgument("device \"" + std::string(name.substr(0, 32)) +
                                   "\": expected \"auto\", \"cpu\", \"cuda\" or \"cuda:N\"");
  }
  unsigned index = 0;  // unsigned: from_chars then refuses a sign
  if (name != "cuda") {
    std::string_view digits = name.substr(5);
    auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), index);
    if (error != std::errc() || end != digits.data() + digits.size() || digits.empty() || digits.size() > 3) {
      return common::Status::InvalidArgument("device \"" + std::string(name.substr(0, 32)) +
                                     "\": the GPU index must be a small non-negative integer");
    }
  }
  if (!torch::cuda::is_available()) {
    return common::Status::FailedPrecondition("device \"" + std::string(name) +
                                      "\": CUDA is not available (this libtorch has no CUDA support or no GPU is "
                                      "visible); use \"cpu\"");
  }
  auto count = static_cast<int>(torch::cuda::device_count());
  if (static_cast<int>(index) >= count) {
    return common::Status::FailedPrecondition("device \"" + std::string(name) + "\": only " + std::to_string(count) +
                                      " GPU(s) visible");
  }
  return c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(index));
}

std::string ComputeDeviceName(const c10::Device& device) {
  if (device.is_cpu()) return "cpu";
  return "cuda:" + std::to_string(device.has_index() ? device.index() : 0);
}

}  // namespace gradients::train
