// matmul_gflops [N] [REPEATS]: float32 N x N matrix products through libtorch, in GFLOP/s.
// Shows which BLAS libtorch runs on (bench/blas_backends.sh runs it against each one).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <torch/torch.h>

int main(int argc, char** argv) {
  const int64_t n = argc > 1 ? std::atoll(argv[1]) : 1024;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 10;
  torch::manual_seed(0);
  torch::Tensor a = torch::randn({n, n});
  torch::Tensor b = torch::randn({n, n});
  torch::Tensor c = torch::matmul(a, b);  // warm-up: thread pools, page faults
  std::vector<double> seconds;
  for (int i = 0; i < repeats; ++i) {
    auto start = std::chrono::steady_clock::now();
    c = torch::matmul(a, b);
    seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(seconds.begin(), seconds.end());
  double median = seconds[seconds.size() / 2];
  double flops = 2.0 * static_cast<double>(n) * static_cast<double>(n) * static_cast<double>(n);
  std::printf("n=%lld torch_threads=%d median=%.4f s  %.1f GFLOP/s  (best %.1f)\n", static_cast<long long>(n),
              torch::get_num_threads(), median, flops / median / 1e9, flops / seconds.front() / 1e9);
  return 0;
}
