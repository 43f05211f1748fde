// The CUDA decode kernels of one gpt-oss-20b layer, each alone, at the real shapes: the
// attention's q/k/v (one launch, RMSNorm in the staging) and o products, the router, the
// experts' gate + up + SwiGLU, and their down + weighted sum — in MLX q5 gs32 and in the Hugging
// Face layout (bf16 attention, MXFP4 experts with gate and up interleaved by row). Each iteration
// times 20 back-to-back launches on one stream with CUDA events (so the launches overlap as in
// a decode step); weight GB/s counts the weight bytes a launch reads, against the device copy
// ceiling `gptoss bench --device cuda` prints. Needs a GPU: elsewhere every benchmark reports
// an error and skips.
#include <benchmark/benchmark.h>
#include <cuda_runtime.h>

#include <memory>
#include <vector>

#include "backend/cuda/expert_down.cuh"
#include "backend/cuda/linear.cuh"
#include "cuda/cuda_test_support.h"

namespace gptoss {
namespace {

using testing::DeviceArray;
using testing::DeviceMatrix;

constexpr int64_t kHidden = 2880, kHeads = 64, kKvHeads = 8, kHeadDim = 64, kExperts = 32, kTopK = 4;
constexpr int kLaunches = 20;

// Bytes one row of `w` occupies: its codes, and its scales and offsets.
double row_bytes(const Matrix& w) {
  const double codes = w.format == WeightFormat::affine   ? w.cols * w.bits / 8.0
                       : w.format == WeightFormat::mxfp4  ? w.cols / 2.0
                       : w.format == WeightFormat::f32    ? w.cols * 4.0
                                                          : w.cols * 2.0;
  const double scale = w.scale_type == ScaleType::f32 ? 4 : w.scale_type == ScaleType::e8m0 ? 1 : 2;
  const double groups = w.group_size > 0 ? static_cast<double>(w.cols) / w.group_size : 0;
  return codes + groups * scale * (w.biases != nullptr ? 2 : 1);
}

// A stack of `count` rows × cols matrices: MLX affine 5-bit gs32 (mlx) or, for the HF layout,
// bf16 (dense) or MXFP4.
test::OwnedMatrix make(bool mlx, bool dense, int64_t count, int64_t rows, int64_t cols, uint32_t seed) {
  if (mlx) return test::affine(5, 32, ScaleType::bf16, count, rows, cols, seed);
  return dense ? test::dense(WeightFormat::bf16, count, rows, cols, seed) : test::mxfp4(count, rows, cols, seed);
}

// Runs `launch` kLaunches times per iteration, timed on the device; `bytes` per launch. (Each
// benchmark checks for a device first: building its weights needs one.)
template <class Launch>
void time_launches(benchmark::State& state, double bytes, Launch&& launch) {
  cudaStream_t stream = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  cuda_check(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), "bench stream");
  cuda_check(cudaEventCreate(&start), "bench event");
  cuda_check(cudaEventCreate(&stop), "bench event");
  launch(stream);  // warm-up: first-launch attributes, instruction cache
  for (auto _ : state) {
    cuda_check(cudaEventRecord(start, stream), "bench event");
    for (int i = 0; i < kLaunches; ++i) launch(stream);
    cuda_check(cudaEventRecord(stop, stream), "bench event");
    cuda_check(cudaEventSynchronize(stop), "bench event");
    float ms = 0.f;
    cuda_check(cudaEventElapsedTime(&ms, start, stop), "bench event");
    state.SetIterationTime(ms / 1e3 / kLaunches);
  }
  state.counters["weight_GB/s"] = benchmark::Counter(bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaStreamDestroy(stream);
}

cuda::LinearProblem dense_problem(const Matrix& w, const float* x, float* y) {
  cuda::LinearProblem p;
  p.w = w;
  p.x = x;
  p.x_stride = w.cols;
  p.items = 1;
  p.max_items_per_matrix = 1;
  p.y = y;
  p.y_stride = w.rows;
  return p;
}

// q, k and v of one token in one launch, RMSNorm in the staging (block 0 writing the row).
void BM_CudaQkv(benchmark::State& state) {
  if (!testing::cuda_device_present()) return state.SkipWithError("no CUDA device on this machine");
  const bool mlx = state.range(0) != 0;
  const test::OwnedMatrix host[] = {make(mlx, true, 1, kHeads * kHeadDim, kHidden, 1),
                                    make(mlx, true, 1, kKvHeads * kHeadDim, kHidden, 2),
                                    make(mlx, true, 1, kKvHeads * kHeadDim, kHidden, 3)};
  const DeviceMatrix w[] = {DeviceMatrix(host[0]), DeviceMatrix(host[1]), DeviceMatrix(host[2])};
  const DeviceArray<float> x(test::random_floats(kHidden, 4));
  DeviceArray<float> norm(test::random_floats(kHidden, 5)), normed(kHidden), y(kHeads * kHeadDim * 2);
  cuda::LinearProblem problems[3];
  float* out = y.get();
  double bytes = 0;
  for (int i = 0; i < 3; ++i) {
    problems[i] = dense_problem(w[i].m, x.get(), out);
    problems[i].norm.weight = norm.get();
    problems[i].norm.eps = 1e-5f;
    problems[i].norm.normed = i == 0 ? normed.get() : nullptr;
    out += w[i].m.rows;
    bytes += row_bytes(w[i].m) * static_cast<double>(w[i].m.rows);
  }
  time_launches(state, bytes, [&](cudaStream_t s) { cuda::linear_streaming(std::span(problems), s); });
}
BENCHMARK(BM_CudaQkv)->Arg(1)->Arg(0)->ArgName("mlx")->UseManualTime();

// o_proj (4096 → 2880) adding into the residual, and the router (2880 → 32, its RMSNorm fused).
void BM_CudaOutputAndRouter(benchmark::State& state) {
  if (!testing::cuda_device_present()) return state.SkipWithError("no CUDA device on this machine");
  const bool mlx = state.range(0) != 0, router = state.range(1) != 0;
  const test::OwnedMatrix host =
      router ? make(mlx, true, 1, kExperts, kHidden, 6) : make(mlx, true, 1, kHidden, kHeads * kHeadDim, 6);
  const DeviceMatrix w(host);
  const DeviceArray<float> x(test::random_floats(static_cast<size_t>(w.m.cols), 7));
  DeviceArray<float> norm(test::random_floats(kHidden, 8)), normed(kHidden), y(static_cast<size_t>(w.m.rows));
  cuda::LinearProblem p = dense_problem(w.m, x.get(), y.get());
  if (router) {
    p.norm.weight = norm.get();
    p.norm.eps = 1e-5f;
    p.norm.normed = normed.get();
  } else {
    p.accumulate = true;
  }
  time_launches(state, row_bytes(w.m) * static_cast<double>(w.m.rows),
                [&](cudaStream_t s) { cuda::linear_streaming(p, s); });
}
BENCHMARK(BM_CudaOutputAndRouter)->ArgsProduct({{1, 0}, {0, 1}})->ArgNames({"mlx", "router"})->UseManualTime();

// The routing's output for one token choosing experts 3, 11, 17 and 29.
struct OneTokenRouting {
  OneTokenRouting()
      : expert(std::vector<int32_t>{3, 11, 17, 29}), weight(std::vector<float>{0.4f, 0.3f, 0.2f, 0.1f}),
        item_row(std::vector<int32_t>(kTopK, 0)), pair_item(std::vector<int32_t>{0, 1, 2, 3}),
        active(std::vector<int32_t>{3, 11, 17, 29}), offsets(offsets_of({3, 11, 17, 29})) {
    routing.expert = expert.get();
    routing.weight = weight.get();
    routing.item_row = item_row.get();
    routing.pair_item = pair_item.get();
    routing.active = active.get();
    routing.offsets = offsets.get();
  }
  static std::vector<int32_t> offsets_of(const std::vector<int>& chosen) {
    std::vector<int32_t> offsets(kExperts + 1, 0);
    for (int e = 0, items = 0; e < kExperts; ++e) {
      offsets[static_cast<size_t>(e)] = items;
      for (int c : chosen) items += c == e ? 1 : 0;
      offsets[static_cast<size_t>(e) + 1] = items;
    }
    return offsets;
  }
  DeviceArray<int32_t> expert;
  DeviceArray<float> weight;
  DeviceArray<int32_t> item_row, pair_item, active, offsets;
  cuda::Routing routing;
};

// The four chosen experts' gate, up and SwiGLU in one pass (the HF layout's gate and up are the
// even and odd rows of one stack).
void BM_CudaExpertsGateUp(benchmark::State& state) {
  if (!testing::cuda_device_present()) return state.SkipWithError("no CUDA device on this machine");
  const bool mlx = state.range(0) != 0;
  std::vector<std::unique_ptr<DeviceMatrix>> stacks;
  Matrix gate, up;
  if (mlx) {
    stacks.push_back(std::make_unique<DeviceMatrix>(make(mlx, false, kExperts, kHidden, kHidden, 9)));
    stacks.push_back(std::make_unique<DeviceMatrix>(make(mlx, false, kExperts, kHidden, kHidden, 10)));
    gate = stacks[0]->m;
    up = stacks[1]->m;
  } else {
    stacks.push_back(std::make_unique<DeviceMatrix>(make(mlx, false, kExperts, 2 * kHidden, kHidden, 9)));
    gate = stacks[0]->m.strided_rows(0, 2);
    up = stacks[0]->m.strided_rows(1, 2);
  }
  const OneTokenRouting r;
  const DeviceArray<float> x(test::random_floats(kHidden, 11));
  DeviceArray<float> bias(test::random_floats(kExperts * kHidden, 12)), y(kTopK * kHidden);
  cuda::LinearProblem p = dense_problem(gate, x.get(), y.get());
  p.x_rows = r.routing.item_row;
  p.offsets = r.routing.offsets;
  p.matrix_list = r.routing.active;
  p.matrices = kTopK;
  p.items = kTopK;
  p.bias = bias.get();
  p.y_stride = kHidden;
  time_launches(state, 2.0 * kTopK * row_bytes(gate) * kHidden, [&](cudaStream_t s) {
    cuda::linear_swiglu(p, up, bias.get(), 7.f, 1.702f, s);
  });
}
BENCHMARK(BM_CudaExpertsGateUp)->Arg(1)->Arg(0)->ArgName("mlx")->UseManualTime();

// The four chosen experts' down products and their weighted sum, added into the residual.
void BM_CudaExpertsDownCombine(benchmark::State& state) {
  if (!testing::cuda_device_present()) return state.SkipWithError("no CUDA device on this machine");
  const bool mlx = state.range(0) != 0;
  const DeviceMatrix down(make(mlx, false, kExperts, kHidden, kHidden, 13));
  const OneTokenRouting r;
  DeviceArray<float> hidden(test::random_floats(kTopK * kHidden, 14)), bias(test::random_floats(kExperts * kHidden, 15)),
      out(kHidden);
  time_launches(state, kTopK * row_bytes(down.m) * kHidden, [&](cudaStream_t s) {
    cuda::down_combine(down.m, bias.get(), hidden.get(), r.routing, 1, kTopK, true, out.get(), s);
  });
}
BENCHMARK(BM_CudaExpertsDownCombine)->Arg(1)->Arg(0)->ArgName("mlx")->UseManualTime();

}  // namespace
}  // namespace gptoss
