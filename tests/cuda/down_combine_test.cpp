// The experts' down products and weighted sum for decode (backend/cuda/expert_down.cuh) against
// the exact sum computed on the CPU in double from dequantize_row. Needs a GPU (ctest label gpu).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "backend/cuda/expert_down.cuh"
#include "cuda/cuda_test_support.h"
#include "kernels/weight_fixtures.h"

namespace gptoss {
namespace {

using testing::DeviceArray;
using testing::DeviceMatrix;

// out[t][r] = out0[t][r] + Σ_j w[t·k+j] · (down_{e[t·k+j]}[r] · hidden[pair_item[t·k+j]] + bias).
std::vector<float> reference(const Matrix& down, const std::vector<float>& bias, const std::vector<float>& hidden,
                             const std::vector<int32_t>& expert, const std::vector<float>& weight,
                             const std::vector<int32_t>& pair_item, int rows, int k, std::vector<float> out) {
  std::vector<float> row(static_cast<size_t>(down.cols));
  for (int t = 0; t < rows; ++t)
    for (int64_t r = 0; r < down.rows; ++r) {
      double total = 0;
      for (int j = 0; j < k; ++j) {
        const int e = expert[static_cast<size_t>(t * k + j)];
        dequantize_row(down, e, r, row.data());
        const float* h = hidden.data() + static_cast<int64_t>(pair_item[static_cast<size_t>(t * k + j)]) * down.cols;
        double dot = bias[static_cast<size_t>(e * down.rows + r)];
        for (int64_t c = 0; c < down.cols; ++c) dot += static_cast<double>(row[static_cast<size_t>(c)]) * h[c];
        total += weight[static_cast<size_t>(t * k + j)] * dot;
      }
      out[static_cast<size_t>(t * down.rows + r)] += static_cast<float>(total);
    }
  return out;
}

// gpt-oss-20b's down shape (MLX q5 gs32, 2880 × 2880) and a narrower 4-bit one, one and two
// tokens of top 4 (the four rows walked together), adding into a residual.
TEST(CudaDownCombine, MatchesTheExactSum) {
  GPTOSS_REQUIRE_CUDA();
  std::vector<std::pair<std::string, test::OwnedMatrix>> cases;
  cases.reserve(2);
  cases.emplace_back("affine 5-bit gs32 6x2880x2880", test::affine(5, 32, ScaleType::bf16, 6, 2880, 2880, 40));
  cases.emplace_back("affine 4-bit gs64 6x200x2880", test::affine(4, 64, ScaleType::bf16, 6, 200, 2880, 41));
  for (const auto& [name, host] : cases) {
    const DeviceMatrix down(host);
    constexpr int k = 4;
    for (const int rows : {1, 2}) {
      std::mt19937 rng(static_cast<uint32_t>(rows));
      const int pairs = rows * k;
      // Distinct experts per token, in an order that is not sorted; the pair's item reversed.
      std::vector<int32_t> expert, pair_item;
      for (int t = 0; t < rows; ++t)
        for (const int e : {4, 1, 5, 2}) expert.push_back((e + t) % 6);
      for (int i = 0; i < pairs; ++i) pair_item.push_back(pairs - 1 - i);
      const std::vector<float> weight = test::random_floats(static_cast<size_t>(pairs), rng(), 1.f);
      const std::vector<float> hidden = test::random_floats(static_cast<size_t>(pairs) * host.m.cols, rng());
      const std::vector<float> bias = test::random_floats(static_cast<size_t>(6 * host.m.rows), rng());
      const std::vector<float> residual = test::random_floats(static_cast<size_t>(rows) * host.m.rows, rng());
      const std::vector<float> expected =
          reference(host.m, bias, hidden, expert, weight, pair_item, rows, k, residual);
      DeviceArray<int32_t> expert_device(expert), pair_item_device(pair_item);
      DeviceArray<float> weight_device(weight), hidden_device(hidden), bias_device(bias), out(residual);
      cuda::Routing routing;
      routing.expert = expert_device.get();
      routing.weight = weight_device.get();
      routing.pair_item = pair_item_device.get();
      cuda::down_combine(down.m, bias_device.get(), hidden_device.get(), routing, rows, k, true, out.get(), nullptr);
      cuda_check(cudaDeviceSynchronize(), "running down_combine");
      EXPECT_LE(testing::relative_error(out.download(), expected), 1e-5)
          << name << ", " << rows << " tokens";
    }
  }
}

}  // namespace
}  // namespace gptoss
