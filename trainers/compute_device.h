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

namespace gradients::train {

// InvalidArgument for a malformed name; FailedPrecondition when CUDA or that GPU is missing.
common::Result<c10::Device> ResolveComputeDevice(std::string_view name);

// Sets libtorch's intra-op threads for work on the CPU: `requested` when > 0; otherwise one when
// libtorch calls an external BLAS that runs its own threads on every core (Debian's libtorch on
// OpenBLAS: two thread pools spinning on the same cores made a training step 2.2x and an
// evaluation 1.4x slower, bench/RESULTS.md), else libtorch's default (MKL shares its OpenMP pool).
void ConfigureCpuThreads(int requested = 0);

// "cpu" or "cuda:N": the canonical name of a device, as logs and metrics report it.
std::string ComputeDeviceName(const c10::Device& device);

}  // namespace gradients::train
