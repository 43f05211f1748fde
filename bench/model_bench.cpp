// The forward pass of the embedded tiny model (4 layers, hidden 32, vocabulary 201,088): a
// 78-token prefill and single-token decode steps. Its cost is dominated by the lm_head
// (201,088 × 32 bf16); the 20b numbers come from `gptoss bench` on a synthetic model.
#include <benchmark/benchmark.h>

#include <numeric>

#include "gptoss/gptoss.h"

namespace gptoss {
namespace {

const Model& tiny_model() {
  static const auto model = Model::load(GPTOSS_TINY_MODEL_DIR);
  return *model;
}

std::vector<int32_t> prompt(int n) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  std::iota(ids.begin(), ids.end(), 1000);
  return ids;
}

void BM_TinyPrefill(benchmark::State& state) {
  const auto tokens = prompt(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    Session session(tiny_model(), {.max_sequences = 1, .context_length = static_cast<int>(tokens.size())});
    const SequenceInput input{0, tokens, LogitsWanted::last};
    benchmark::DoNotOptimize(session.forward({&input, 1}).values.data());
  }
  state.counters["tok/s"] = benchmark::Counter(static_cast<double>(tokens.size()), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_TinyPrefill)->Arg(78)->Arg(512)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_TinyDecode(benchmark::State& state) {
  const int context = 4096;
  Session session(tiny_model(), {.max_sequences = 1, .context_length = context});
  const auto tokens = prompt(78);
  const SequenceInput input{0, tokens, LogitsWanted::none};
  session.forward({&input, 1});
  int32_t next = 42;
  for (auto _ : state) {
    if (session.position(0) == context) session.reset(0);
    const SequenceInput step{0, {&next, 1}, LogitsWanted::last};
    benchmark::DoNotOptimize(session.forward({&step, 1}).values.data());
  }
  state.counters["tok/s"] = benchmark::Counter(1, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_TinyDecode)->UseRealTime()->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace gptoss
