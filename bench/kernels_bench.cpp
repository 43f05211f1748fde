// CPU kernels at gpt-oss-20b shapes: the linear layers (bf16 attention projections, MXFP4
// experts) for decode (1 row) and prefill (64 rows), and attention over a long cache.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/attention.h"
#include "backend/cpu/linear.h"

namespace gptoss {
namespace {

ThreadPool& pool() {
  static ThreadPool p(0);
  return p;
}

std::vector<uint8_t> random_bytes(size_t n, uint8_t lo, uint8_t hi) {
  std::mt19937 rng(1);
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = static_cast<uint8_t>(lo + rng() % (hi - lo + 1));
  return v;
}

// Random 16-bit patterns with the exponent range of typical weights, as bf16.
std::vector<uint8_t> random_bf16(size_t elements) {
  std::vector<uint8_t> v = random_bytes(2 * elements, 0, 255);
  for (size_t i = 1; i < v.size(); i += 2) v[i] = static_cast<uint8_t>(0x3c + (v[i] & 1) + (v[i] & 0x80));
  return v;
}

void run_linear(benchmark::State& state, const Matrix& m) {
  const int64_t n = state.range(0);
  std::vector<float> x(static_cast<size_t>(n * m.cols), 0.5f), y(static_cast<size_t>(n * m.rows));
  for (auto _ : state) {
    linear({x.data(), n, &m, 0, nullptr, y.data(), m.rows}, pool());
    benchmark::DoNotOptimize(y.data());
  }
  double weight_bytes = m.rows * m.cols * 2.0;
  if (m.format == WeightFormat::mxfp4) weight_bytes = m.rows * m.cols * (0.5 + 1.0 / 32);
  if (m.format == WeightFormat::affine) weight_bytes = m.rows * m.cols * (m.bits / 8.0 + 4.0 / m.group_size);
  state.counters["weight_GB/s"] = benchmark::Counter(weight_bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * n * m.rows * m.cols / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_LinearBf16_QProj(benchmark::State& state) {  // q_proj: 2880 → 4096
  static const std::vector<uint8_t> w = random_bf16(4096 * 2880);
  Matrix m{.format = WeightFormat::bf16, .rows = 4096, .cols = 2880};
  m.weight = w.data();
  m.weight_row_stride = 2880 * 2;
  run_linear(state, m);
}
BENCHMARK(BM_LinearBf16_QProj)->Arg(1)->Arg(64)->UseRealTime();

void BM_LinearMxfp4_Expert(benchmark::State& state) {  // one expert's gate_up: 2880 → 5760
  static const std::vector<uint8_t> codes = random_bytes(5760 * 2880 / 2, 0, 255);
  static const std::vector<uint8_t> scales = random_bytes(5760 * 2880 / 32, 118, 124);
  Matrix m{.format = WeightFormat::mxfp4, .rows = 5760, .cols = 2880, .group_size = 32, .scale_type = ScaleType::e8m0};
  m.weight = codes.data();
  m.weight_row_stride = 2880 / 2;
  m.scales = scales.data();
  m.scale_row_stride = 2880 / 32;
  run_linear(state, m);
}
BENCHMARK(BM_LinearMxfp4_Expert)->Arg(1)->Arg(64)->UseRealTime();

void BM_LinearAffine5_Expert(benchmark::State& state) {  // MLX 5-bit gs32 gate_proj: 2880 → 2880
  static const std::vector<uint8_t> codes = random_bytes(2880 * 2880 * 5 / 8, 0, 255);
  static const std::vector<uint8_t> scales = random_bf16(2880 * 90), biases = random_bf16(2880 * 90);
  Matrix m{.format = WeightFormat::affine, .rows = state.range(1), .cols = 2880, .bits = 5, .group_size = 32,
           .scale_type = ScaleType::bf16};
  m.weight = codes.data();
  m.weight_row_stride = 2880 * 5 / 8;
  m.scales = scales.data();
  m.biases = biases.data();
  m.scale_row_stride = 90 * 2;
  run_linear(state, m);
}
// 2880 rows stream from memory; 256 rows (0.55 MB) stay in cache: the kernel's compute rate.
BENCHMARK(BM_LinearAffine5_Expert)->Args({1, 2880})->Args({4, 2880})->Args({64, 2880})->Args({1, 256})->UseRealTime();

// The machine's memory-copy bandwidth (bytes copied per second: each is read and written).
void BM_MemoryCopy(benchmark::State& state) {
  const size_t bytes = size_t{1} << 30;
  static std::vector<uint8_t> from(bytes, 1), to(bytes, 0);
  for (auto _ : state) {
    pool().parallel_for(64, 1, [&](int64_t b, int64_t e, int) {
      std::memcpy(to.data() + b * (bytes / 64), from.data() + b * (bytes / 64), static_cast<size_t>(e - b) * (bytes / 64));
    });
    benchmark::DoNotOptimize(to.data());
  }
  state.counters["copied_GB/s"] = benchmark::Counter(static_cast<double>(bytes), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MemoryCopy)->UseRealTime()->Unit(benchmark::kMillisecond);

// The machine's read bandwidth: every thread sums its share of 1 GiB (the ceiling for
// streaming weights, which are only read).
void BM_MemoryRead(benchmark::State& state) {
  const size_t floats = size_t{1} << 28;
  static std::vector<float> data(floats, 1.f);
  std::vector<float> partial(64);
  for (auto _ : state) {
    pool().parallel_for(64, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t c = b; c < e; ++c) {
        const float* p = data.data() + static_cast<size_t>(c) * (floats / 64);
        float acc[16] = {};
        for (size_t i = 0; i < floats / 64; i += 16)
          for (int j = 0; j < 16; ++j) acc[j] += p[i + static_cast<size_t>(j)];
        float total = 0;
        for (float a : acc) total += a;
        partial[static_cast<size_t>(c)] = total;
      }
    });
    benchmark::DoNotOptimize(partial.data());
  }
  state.counters["read_GB/s"] = benchmark::Counter(4.0 * floats, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_MemoryRead)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_AttentionDecode(benchmark::State& state) {  // one query row, 64 heads over a full cache
  const int64_t context = state.range(0), kv_width = 8 * 64;
  std::vector<float> keys(static_cast<size_t>(context * kv_width), 0.01f), values(keys.size(), 0.02f);
  std::vector<float> q(64 * 64, 0.1f), k(static_cast<size_t>(kv_width), 0.1f), v(k.size(), 0.1f), out(q.size());
  std::vector<float> sinks(64, 0.5f);
  BatchLayout layout;
  layout.sequences.push_back({0, static_cast<int32_t>(context - 1), 0, 1});
  layout.tokens = {0};
  layout.positions = {static_cast<int32_t>(context - 1)};
  const KvLayer cache{keys.data(), values.data(), context, 1};
  const AttentionParameters p{64, 8, 64, 0, 0.125f, Vector{sinks.data(), 64}};
  for (auto _ : state) {
    attention_rows(q.data(), k.data(), v.data(), layout, cache, p, out.data(), pool());
    benchmark::DoNotOptimize(out.data());
  }
}
BENCHMARK(BM_AttentionDecode)->Arg(128)->Arg(4096)->UseRealTime();

}  // namespace
}  // namespace gptoss

namespace gptoss {
namespace {

// What one parallel_for costs when the work is trivial: the wake-up and join of the workers,
// paid ~400 times per decoded token of the 20b.
void BM_ThreadPoolRoundTrip(benchmark::State& state) {
  std::atomic<int64_t> sink{0};
  for (auto _ : state) pool().parallel_for(64, 1, [&](int64_t b, int64_t e, int) { sink += e - b; });
  benchmark::DoNotOptimize(sink.load());
}
BENCHMARK(BM_ThreadPoolRoundTrip)->UseRealTime();

}  // namespace
}  // namespace gptoss
