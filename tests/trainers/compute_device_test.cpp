#include "trainers/compute_device.h"

#include <gtest/gtest.h>
#include <torch/cuda.h>

namespace gradients::train {
namespace {

TEST(ComputeDevice, CpuIsAlwaysAvailable) {
  common::Result<c10::Device> device = ResolveComputeDevice("cpu");
  ASSERT_TRUE(device.ok());
  EXPECT_TRUE(device->is_cpu());
  EXPECT_EQ(ComputeDeviceName(*device), "cpu");
}

TEST(ComputeDevice, AutoPicksTheGpuWhenThereIsOne) {
  common::Result<c10::Device> device = ResolveComputeDevice("auto");
  ASSERT_TRUE(device.ok());
  EXPECT_EQ(device->is_cuda(), torch::cuda::is_available());
}

TEST(ComputeDevice, MalformedNamesAreRejected) {
  for (const char* name : {"gpu", "CUDA", "cuda:", "cuda:-1", "cuda:x", "cuda:1x", "cuda:99999", ""}) {
    common::Result<c10::Device> device = ResolveComputeDevice(name);
    ASSERT_FALSE(device.ok()) << name;
    EXPECT_EQ(device.status().code(), common::StatusCode::kInvalidArgument) << name;
  }
}

TEST(ComputeDevice, CudaResolvesOnlyWhenTheMachineHasIt) {
  common::Result<c10::Device> device = ResolveComputeDevice("cuda");
  if (torch::cuda::is_available()) {
    ASSERT_TRUE(device.ok()) << device.status().ToString();
    EXPECT_EQ(ComputeDeviceName(*device), "cuda:0");
  } else {
    EXPECT_EQ(device.status().code(), common::StatusCode::kFailedPrecondition);
    EXPECT_NE(device.status().message().find("CUDA is not available"), std::string::npos);
  }
}

TEST(ComputeDevice, AGpuIndexBeyondTheVisibleOnesIsRejected) {
  common::Result<c10::Device> device = ResolveComputeDevice("cuda:999");
  ASSERT_FALSE(device.ok());
  EXPECT_EQ(device.status().code(), common::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace gradients::train
