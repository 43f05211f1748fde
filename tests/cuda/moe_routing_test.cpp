// The mixture of experts' device bookkeeping (backend/cuda/moe_routing.cuh) against the CPU's
// route_token: the same experts and weights per row, a consistent sort by expert (every pair
// exactly once, offsets as prefix sums, each item pointing back at its row), the active list,
// and the weighted combine. Needs a GPU (ctest label gpu).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "backend/cpu/moe.h"
#include "backend/cuda/moe_routing.cuh"
#include "cuda/cuda_test_support.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

using testing::DeviceArray;

TEST(CudaMoeRouting, MatchesRouteTokenAndSortsByExpert) {
  GPTOSS_REQUIRE_CUDA();
  std::mt19937 rng(5);
  for (const auto& [rows, experts, k] : std::vector<std::tuple<int, int, int>>{{1, 32, 4}, {7, 32, 4}, {300, 32, 4},
                                                                               {5, 128, 4}, {2000, 8, 2}}) {
    SCOPED_TRACE(std::to_string(rows) + " rows, " + std::to_string(experts) + " experts, top " + std::to_string(k));
    const int pairs = rows * k, slots = cuda::active_slots(rows, experts, k);
    const auto logits = test::random_floats(static_cast<size_t>(rows * experts), static_cast<uint32_t>(rng()), 3.f);
    DeviceArray<float> logits_device(logits), weight(static_cast<size_t>(pairs));
    DeviceArray<int32_t> expert(static_cast<size_t>(pairs)), offsets(static_cast<size_t>(experts + 1)),
        item_row(static_cast<size_t>(pairs)), pair_item(static_cast<size_t>(pairs)), active(static_cast<size_t>(slots));
    for (auto* a : {&expert, &offsets, &item_row, &pair_item, &active}) a->poison();
    weight.poison();
    cuda::Routing r{expert.get(), weight.get(), offsets.get(), item_row.get(), pair_item.get(), active.get()};
    cuda::route(logits_device.get(), rows, experts, k, r, nullptr);
    cuda_check(cudaDeviceSynchronize(), "routing");
    const auto e = expert.download(), o = offsets.download(), ir = item_row.download(), pi = pair_item.download(),
               act = active.download();
    const auto w = weight.download();
    std::vector<int> seen(static_cast<size_t>(pairs), 0);
    for (int row = 0; row < rows; ++row) {
      const auto want = route_token(logits.data() + row * experts, experts, k);
      for (int j = 0; j < k; ++j) {
        const size_t pair = static_cast<size_t>(row * k + j);
        ASSERT_EQ(e[pair], want[size_t(j)].expert) << "row " << row << " choice " << j;
        ASSERT_NEAR(w[pair], want[size_t(j)].weight, 1e-6) << "row " << row << " choice " << j;
        const int item = pi[pair];
        ASSERT_GE(item, o[size_t(e[pair])]);
        ASSERT_LT(item, o[size_t(e[pair]) + 1]);
        ASSERT_EQ(ir[size_t(item)], row);
        ++seen[size_t(item)];
      }
    }
    for (int item = 0; item < pairs; ++item) ASSERT_EQ(seen[size_t(item)], 1) << "item " << item;
    ASSERT_EQ(o[0], 0);
    ASSERT_EQ(o[size_t(experts)], pairs);
    std::vector<int32_t> want_active;
    for (int x = 0; x < experts; ++x)
      if (o[size_t(x) + 1] > o[size_t(x)]) want_active.push_back(x);
    want_active.resize(static_cast<size_t>(slots), -1);
    ASSERT_EQ(act, want_active);

    // combine: out[r] = Σ_j w · expert_out[pair_item]
    constexpr int64_t kCols = 96;
    const auto expert_out = test::random_floats(static_cast<size_t>(pairs * kCols), static_cast<uint32_t>(rng()));
    DeviceArray<float> expert_out_device(expert_out), out(static_cast<size_t>(rows * kCols));
    out.poison();
    cuda::combine_experts(expert_out_device.get(), kCols, r, rows, k, false, out.get(), nullptr);
    cuda_check(cudaDeviceSynchronize(), "combining");
    const auto got = out.download();
    std::vector<float> want(got.size());
    for (int row = 0; row < rows; ++row)
      for (int64_t c = 0; c < kCols; ++c) {
        double sum = 0;
        for (int j = 0; j < k; ++j)
          sum += double(w[size_t(row * k + j)]) * expert_out[size_t(pi[size_t(row * k + j)] * kCols + c)];
        want[size_t(row * kCols + c)] = static_cast<float>(sum);
      }
    EXPECT_LE(testing::relative_error(got, want), 1e-6);
  }
}

}  // namespace
}  // namespace gptoss
