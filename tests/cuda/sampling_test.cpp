// Sampling on the GPU backend (CudaBackend::sample): draws with temperature, top-p, min-p and
// top-k follow mlx_lm's distribution by the same chi-square tests as the CPU sampler
// (tests/runtime/sampling_reference.h), padding columns beyond the vocabulary never come, and
// a batch of rows is answered row by row. Needs a GPU (ctest label gpu).
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "backend/registry.h"
#include "cuda/cuda_test_support.h"
#include "runtime/sampling_reference.h"
#include "sampling/sampling_steps.h"

namespace gptoss {
namespace {

using test::kLogits;
using test::kVocabLogits;
using test::with;

// 200,000 draws on `device`, 1,000 rows of the same logits per call.
void expect_distribution(const std::string& device, const SamplerOptions& options) {
  constexpr int kRows = 1000, kCalls = 200;
  auto backend = make_backend(device, {.threads = 0, .precision = "f32"});
  auto ctx = backend->make_context();
  std::vector<float> rows;
  for (int r = 0; r < kRows; ++r) rows.insert(rows.end(), kLogits.begin(), kLogits.end());
  const Buffer logits = backend->allocate(ElementType::f32, static_cast<int64_t>(rows.size()), "test logits");
  ctx->stream().copy_to_device(rows.data(), static_cast<int64_t>(rows.size() * sizeof(float)), logits.data());
  ctx->stream().synchronize();
  const Activations a{logits.data(), ElementType::f32, kRows, static_cast<int64_t>(kLogits.size())};
  std::mt19937_64 rng(11);
  std::vector<SampleRequest> requests(kRows);
  std::vector<SampleResult> results(kRows);
  std::vector<int> counts(kLogits.size());
  for (int call = 0; call < kCalls; ++call) {
    for (auto& r : requests) {
      r.options = &options;
      r.vocab_size = static_cast<int32_t>(kVocabLogits.size());
      r.uniform = sampling::uniform(rng);
    }
    backend->sample(*ctx, a, requests, results);
    for (const auto& result : results) ++counts[static_cast<size_t>(result.token)];
  }
  test::expect_counts_follow(counts, test::mlx_lm_distribution(kVocabLogits, options), kRows * kCalls);
}

TEST(CudaSampling, TemperatureTopPMinPTopKFollowMlxLm) {
  GPTOSS_REQUIRE_CUDA();
  for (const SamplerOptions& options :
       {with(1.0f), with(0.7f), with(2.0f), with(1.5f, 0.75f), with(0.7f, 1, 0.2f), with(2.f, 1, 0, 4),
        with(1.3f, 0.93f, 0.07f, 6)}) {
    SCOPED_TRACE("temperature " + std::to_string(options.temperature) + ", top_p " + std::to_string(options.top_p) +
                 ", min_p " + std::to_string(options.min_p) + ", top_k " + std::to_string(options.top_k));
    expect_distribution("cuda", options);
  }
}

}  // namespace
}  // namespace gptoss
