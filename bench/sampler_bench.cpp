// Sampling one token from a gpt-oss-sized row of logits (201,088) on one core, per setting of
// mlx_lm's sampler chain. It runs once per generated token next to a decode step of about
// 100 ms on the dev VM (docs/PERFORMANCE.md), so a few ms would already matter.
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "gptoss/sampler.h"

namespace gptoss {
namespace {

constexpr int32_t kVocab = 201088;

// Logits shaped like a language model's: a few clear candidates over a wide normal tail.
std::vector<float> model_like_logits() {
  std::mt19937 rng(7);
  std::normal_distribution<float> tail(0.0f, 2.0f);
  std::vector<float> logits(kVocab);
  for (float& x : logits) x = tail(rng);
  for (int i = 0; i < 8; ++i) logits[static_cast<size_t>(rng() % kVocab)] = 14.0f - static_cast<float>(i);
  return logits;
}

void run(benchmark::State& state, SamplerOptions options) {
  const std::vector<float> logits = model_like_logits();
  const std::vector<int32_t> history = {976, 4853, 19705, 68347, 976, 4853};
  options.seed = 1;
  Sampler sampler(options, kVocab);
  for (auto _ : state) benchmark::DoNotOptimize(sampler.sample(logits, history));
}

// mlx_lm's settings at temperature 0.7, with `configure` changing some.
template <typename Configure>
SamplerOptions at_temperature(Configure configure) {
  SamplerOptions options;
  options.temperature = 0.7f;
  configure(options);
  return options;
}

void BM_Greedy(benchmark::State& state) { run(state, SamplerOptions{}); }
void BM_Temperature(benchmark::State& state) { run(state, at_temperature([](SamplerOptions&) {})); }
void BM_TopP(benchmark::State& state) { run(state, at_temperature([](SamplerOptions& o) { o.top_p = 0.9f; })); }
void BM_MinP(benchmark::State& state) { run(state, at_temperature([](SamplerOptions& o) { o.min_p = 0.05f; })); }
void BM_TopK(benchmark::State& state) { run(state, at_temperature([](SamplerOptions& o) { o.top_k = 40; })); }
void BM_PenaltiesAndAllFilters(benchmark::State& state) {
  run(state, at_temperature([](SamplerOptions& o) {
        o.top_p = 0.9f;
        o.min_p = 0.05f;
        o.top_k = 40;
        o.repetition_penalty = 1.1f;
        o.presence_penalty = 0.5f;
        o.frequency_penalty = 0.5f;
      }));
}
BENCHMARK(BM_Greedy)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_Temperature)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TopP)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MinP)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_TopK)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_PenaltiesAndAllFilters)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace gptoss
