// Checks the libtorch runtime the trainers stand on: correct results, and on Debian an
// optimised BLAS. Without libopenblas0-pthread, Debian's libtorch multiplies matrices with the
// reference BLAS, about 20x slower: training would be correct but useless.
#include <fstream>
#include <string>

#include <ATen/Version.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace {

std::string LoadedLibraries() {
  std::ifstream maps("/proc/self/maps");
  return std::string(std::istreambuf_iterator<char>(maps), {});
}

TEST(TorchRuntime, MatrixProductMatchesANaiveOne) {
  torch::manual_seed(0);
  torch::Tensor a = torch::randn({37, 53}, torch::kFloat64);
  torch::Tensor b = torch::randn({53, 29}, torch::kFloat64);
  torch::Tensor naive = torch::zeros({37, 29}, torch::kFloat64);
  auto A = a.accessor<double, 2>();
  auto B = b.accessor<double, 2>();
  auto C = naive.accessor<double, 2>();
  for (int i = 0; i < 37; ++i)
    for (int j = 0; j < 29; ++j)
      for (int k = 0; k < 53; ++k) C[i][j] += A[i][k] * B[k][j];
  EXPECT_TRUE(torch::allclose(torch::matmul(a, b), naive, 1e-12, 1e-12));
}

TEST(TorchRuntime, DebianLibtorchMultipliesWithOpenBlas) {
  // Debian builds libtorch against the generic BLAS interface (BLAS_INFO=generic) and lets the
  // alternatives system pick the library; PyTorch's own builds link MKL and need no check.
  if (at::show_config().find("BLAS_INFO=generic") == std::string::npos) {
    GTEST_SKIP() << "this libtorch does not use the generic BLAS interface";
  }
  torch::Tensor a = torch::ones({64, 64});
  ASSERT_EQ(torch::matmul(a, a)[0][0].item<float>(), 64.0f);
  std::string maps = LoadedLibraries();
  EXPECT_NE(maps.find("openblas"), std::string::npos)
      << "libtorch is not using OpenBLAS: install libopenblas0-pthread (scripts/install-deps.sh)";
  EXPECT_EQ(maps.find("/blas/libblas.so"), std::string::npos) << "the reference BLAS is loaded";
}

}  // namespace
