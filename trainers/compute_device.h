// Which device training and evaluation run on: "auto" (the first GPU when there is one, else the
// CPU), "cpu", "cuda" (the first GPU) or "cuda:N".
// Configs and command lines name devices as strings; this turns them into a torch device
// after checking the machine actually has it, so a miner configured for a GPU it lacks fails
// at start-up with a clear error instead of mid-task.
#pragma once

#include <string>
#include <string_view>

#include <c10/core/Device.h>

#include "common/status.h"

namespace gradients {

// InvalidArgument for a malformed name; FailedPrecondition when CUDA or that GPU is missing.
Result<c10::Device> ResolveComputeDevice(std::string_view name);

// "cpu" or "cuda:N": the canonical name of a device, as logs and metrics report it.
std::string ComputeDeviceName(const c10::Device& device);

}  // namespace gradients
