// CPU kernels at gpt-oss-20b shapes: the linear layers (bf16 attention projections, MXFP4
// experts) for decode (1 row) and prefill (64 rows), and attention over a long cache.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <vector>

#include "backend/cpu/attention.h"
#include "backend/cpu/linear.h"
#include "util/read_bandwidth.h"

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

void run_linear(benchmark::State& state, const Matrix& m, LinearPrecision precision = LinearPrecision::f32) {
  const int64_t n = state.range(0);
  std::vector<float> x(static_cast<size_t>(n * m.cols), 0.5f), y(static_cast<size_t>(n * m.rows));
  for (auto _ : state) {
    linear({x.data(), n, &m, 0, nullptr, y.data(), m.rows}, pool(), best_cpu_kernels(), precision);
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

// Decode and prefill linears take a last argument: 0 = float32 products, 1 = bf16 (needs AVX512-BF16).
bool precision_available(benchmark::State& state, int arg) {
  if (state.range(arg) == 0 || best_cpu_kernels().bf16_products != nullptr) return true;
  state.SkipWithError("no AVX512-BF16 on this CPU");
  return false;
}
LinearPrecision precision_arg(benchmark::State& state, int arg) {
  return state.range(arg) == 0 ? LinearPrecision::f32 : LinearPrecision::bf16;
}

void BM_LinearMxfp4_Expert(benchmark::State& state) {  // one expert's gate_up: 2880 → 5760
  if (!precision_available(state, 1)) return;
  static const std::vector<uint8_t> codes = random_bytes(5760 * 2880 / 2, 0, 255);
  static const std::vector<uint8_t> scales = random_bytes(5760 * 2880 / 32, 118, 124);
  Matrix m{.format = WeightFormat::mxfp4, .rows = 5760, .cols = 2880, .group_size = 32, .scale_type = ScaleType::e8m0};
  m.weight = codes.data();
  m.weight_row_stride = 2880 / 2;
  m.scales = scales.data();
  m.scale_row_stride = 2880 / 32;
  run_linear(state, m, precision_arg(state, 1));
}
BENCHMARK(BM_LinearMxfp4_Expert)->Args({1, 0})->Args({1, 1})->Args({64, 0})->UseRealTime();

// An MLX `bits`-bit gs32 matrix [rows, 2880] over random codes and bf16 scales and biases.
struct AffineWeights {
  AffineWeights(int width, int64_t rows)
      : bits(width),
        codes(random_bytes(static_cast<size_t>(rows) * 2880 * width / 8, 0, 255)),
        scales(random_bf16(static_cast<size_t>(rows) * 90)),
        biases(random_bf16(static_cast<size_t>(rows) * 90)) {}
  Matrix matrix(int64_t rows) const {
    Matrix m{.format = WeightFormat::affine, .rows = rows, .cols = 2880, .bits = bits, .group_size = 32,
             .scale_type = ScaleType::bf16};
    m.weight = codes.data();
    m.weight_row_stride = 2880 * bits / 8;
    m.scales = scales.data();
    m.biases = biases.data();
    m.scale_row_stride = 90 * 2;
    return m;
  }
  int bits;
  std::vector<uint8_t> codes, scales, biases;
};

void BM_LinearAffine5_Expert(benchmark::State& state) {  // MLX 5-bit gs32 gate_proj: 2880 → 2880
  if (!precision_available(state, 2)) return;
  static const AffineWeights w(5, 2880);
  run_linear(state, w.matrix(state.range(1)), precision_arg(state, 2));
}
// 2880 rows stream from memory; 256 rows (0.55 MB) stay in cache: the kernel's compute rate.
BENCHMARK(BM_LinearAffine5_Expert)
    ->Args({1, 2880, 0})->Args({1, 2880, 1})->Args({4, 2880, 0})->Args({4, 2880, 1})->Args({64, 2880, 0})
    ->Args({1, 256, 0})->Args({1, 256, 1})->UseRealTime();

void BM_LinearAffine8_Expert(benchmark::State& state) {  // MLX 8-bit gs32 gate_proj, decode
  if (!precision_available(state, 1)) return;
  static const AffineWeights w(8, 2880);
  run_linear(state, w.matrix(2880), precision_arg(state, 1));
}
BENCHMARK(BM_LinearAffine8_Expert)->Args({1, 0})->Args({1, 1})->UseRealTime();

// Prefill, float32 against bf16 products: an MLX 5-bit gs32 expert's gate_up [2880 → 5760] for 512 inputs and for the
// ~64 an expert gets from a 512-token prompt (4 of 32 experts a token), and the bf16 q_proj
// [2880 → 4096] for 512 inputs.

void BM_PrefillAffine5_GateUp(benchmark::State& state) {
  if (!precision_available(state, 1)) return;
  static const AffineWeights w(5, 5760);
  run_linear(state, w.matrix(5760), precision_arg(state, 1));
}
BENCHMARK(BM_PrefillAffine5_GateUp)->Args({64, 0})->Args({64, 1})->Args({512, 0})->Args({512, 1})->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_PrefillBf16_QProj(benchmark::State& state) {
  if (!precision_available(state, 1)) return;
  static const std::vector<uint8_t> w = random_bf16(4096 * 2880);
  Matrix m{.format = WeightFormat::bf16, .rows = 4096, .cols = 2880};
  m.weight = w.data();
  m.weight_row_stride = 2880 * 2;
  run_linear(state, m, precision_arg(state, 1));
}
BENCHMARK(BM_PrefillBf16_QProj)->Args({512, 0})->Args({512, 1})->UseRealTime()->Unit(benchmark::kMillisecond);

// The MoE's SwiGLU over one expert's activations for 64 rows (a prefill share): the scalar
// reference (argument 0, std::exp) against the best kernel set's (1), on one thread.
void BM_SwiGlu(benchmark::State& state) {
  const int64_t n = 64 * 2880;
  std::vector<float> gate(static_cast<size_t>(n)), up(gate.size()), out(gate.size());
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.f, 3.f);
  for (size_t i = 0; i < gate.size(); ++i) {
    gate[i] = normal(rng);
    up[i] = normal(rng);
  }
  const SwigluKernel kernel = state.range(0) == 0 ? scalar_kernels().swiglu : best_cpu_kernels().swiglu;
  for (auto _ : state) {
    kernel(gate.data(), up.data(), n, 7.f, 1.702f, out.data());
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["Melem/s"] = benchmark::Counter(static_cast<double>(n) / 1e6, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_SwiGlu)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

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

// The machine's read bandwidth, measured the way `gptoss bench` measures its ceiling (one
// pass over 1 GiB per iteration, all threads): a plain scalar sum here used to report a third of
// it.
void BM_MemoryRead(benchmark::State& state) {
  double best = 0;
  for (auto _ : state) best = std::max(best, measure_read_bandwidth(pool().size(), size_t{1} << 30, 1).gb_per_second);
  state.counters["read_GB/s"] = best;
}
BENCHMARK(BM_MemoryRead)->UseRealTime()->Unit(benchmark::kMillisecond);

// Attention at the 20b's shape (64 query heads, 8 kv heads of 64) over a paged cache of
// 32-token blocks in shuffled order (a pool after some churn), f32 or bf16 (second argument:
// 0 = f32, 1 = bf16). Only attention_rows is timed; the keys are stored beforehand.
struct AttentionSetup {
  static constexpr int kBlockTokens = 32;
  static constexpr int64_t kKvWidth = 8 * 64;
  ElementType dtype;
  std::vector<uint8_t> keys, values;
  std::vector<float> q, sinks, out;
  BatchLayout layout;
  AttentionParameters params{64, 8, 64, 0, 0.125f, {}};

  // One sequence of `rows` rows ending at position context − 1.
  AttentionSetup(int64_t context, int64_t rows, ElementType t) : dtype(t) {
    const int64_t blocks = (context + kBlockTokens - 1) / kBlockTokens;
    keys.resize(static_cast<size_t>(blocks * kBlockTokens * kKvWidth * element_bytes(t)));
    values.resize(keys.size());
    std::mt19937 rng(3);
    std::normal_distribution<float> normal(0.f, 1.f);
    std::vector<float> k(static_cast<size_t>(context * kKvWidth)), v(k.size());
    for (auto& x : k) x = normal(rng);
    for (auto& x : v) x = normal(rng);
    q.resize(static_cast<size_t>(rows * 64 * 64));
    for (auto& x : q) x = normal(rng);
    sinks.assign(64, 0.5f);
    out.resize(q.size());
    params.sinks = Vector{sinks.data(), 64};
    layout.block_tables.resize(static_cast<size_t>(blocks));
    for (int64_t b = 0; b < blocks; ++b) layout.block_tables[static_cast<size_t>(b)] = static_cast<int32_t>(b);
    std::shuffle(layout.block_tables.begin(), layout.block_tables.end(), rng);
    BatchLayout::Sequence seq;
    seq.table_length = {static_cast<int32_t>(blocks), 0};
    // Store every position (as earlier steps and this one would have), then keep this step's rows.
    seq.rows = context;
    layout.sequences = {seq};
    for (int64_t i = 0; i < context; ++i) layout.positions.push_back(static_cast<int32_t>(i));
    layout.tokens.assign(static_cast<size_t>(context), 0);
    store_kv(k.data(), v.data(), layout, view());
    layout.sequences[0].start_position = static_cast<int32_t>(context - rows);
    layout.sequences[0].rows = rows;
    layout.positions.erase(layout.positions.begin(), layout.positions.end() - rows);
    layout.tokens.resize(static_cast<size_t>(rows));
  }
  KvLayerView view() {
    return {keys.data(), values.data(), dtype, static_cast<int64_t>(layout.block_tables.size()), kBlockTokens, kKvWidth, 0};
  }
};

void run_attention(benchmark::State& state, int64_t context, int64_t rows) {
  const ElementType dtype = state.range(1) == 0 ? ElementType::f32 : ElementType::bf16;
  AttentionSetup a(context, rows, dtype);
  const KvLayerView cache = a.view();
  for (auto _ : state) {
    attention_rows(a.q.data(), a.layout, cache, a.params, a.out.data(), pool());
    benchmark::DoNotOptimize(a.out.data());
  }
  state.SetLabel(element_type_name(dtype));
  // Keys and values each read once per step by every row (decode: the whole cache once).
  state.counters["kv_GB/s"] = benchmark::Counter(2.0 * static_cast<double>(context * AttentionSetup::kKvWidth * element_bytes(dtype)),
                                                 benchmark::Counter::kIsIterationInvariantRate);
  double pairs = 0;  // (query row, key) pairs
  for (int64_t r = 0; r < rows; ++r) pairs += static_cast<double>(context - rows + r + 1);
  state.counters["GFLOP/s"] = benchmark::Counter(pairs * 64 * 64 * 4 / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void BM_AttentionDecode(benchmark::State& state) { run_attention(state, state.range(0), 1); }  // one row at the end
BENCHMARK(BM_AttentionDecode)->Args({4096, 0})->Args({4096, 1})->Args({32768, 0})->Args({32768, 1})->UseRealTime();

void BM_AttentionPrefill(benchmark::State& state) { run_attention(state, state.range(0), state.range(0)); }  // a fresh sequence
BENCHMARK(BM_AttentionPrefill)->Args({512, 0})->Args({512, 1})->UseRealTime()->Unit(benchmark::kMillisecond);

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
