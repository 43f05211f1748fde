// The CUDA attention (backend/cuda/attention.cu, through the backend's attention op: layout
// upload, store_kv, the split kernel, the merge) on the CPU tests' paged bench — several
// sequences at different positions per batch, shuffled blocks, released windowed blocks, f32
// and bf16 caches — against the direct double-precision formula; a 5,000-token context, whose
// decode step is split over many blocks; and rope_attention (RoPE in the store's launch)
// against the separate ops. Needs a GPU (ctest label gpu).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "backend/kv_blocks.h"
#include "backend/registry.h"
#include "cuda/cuda_test_support.h"
#include "gptoss/error.h"
#include "kernels/paged_attention_fixture.h"

namespace gptoss {
namespace {

using testing::DeviceArray;

void to_device(void* device, const void* host, size_t bytes) {
  cuda_check(cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice), "test upload");
  cuda_check(cudaDeviceSynchronize(), "test upload");  // see DeviceArray::upload
}
void to_host(void* host, const void* device, size_t bytes) {
  cuda_check(cudaMemcpy(host, device, bytes, cudaMemcpyDeviceToHost), "test download");
}

// Runs each batch on the GPU: the host cache goes to the device, the op runs, the cache (with
// the batch's keys and values stored by the GPU) comes back for the next batch.
class CudaAttend {
 public:
  CudaAttend() : backend_(make_backend("cuda", {.threads = 0, .precision = "f32"})), ctx_(backend_->make_context()) {}

  void operator()(const BatchLayout& layout, const KvLayerView& cache, const std::vector<float>& q,
                  const std::vector<float>& k, const std::vector<float>& v, const AttentionParameters& p,
                  std::vector<float>& out) {
    const auto bytes =
        static_cast<size_t>(cache.blocks * cache.block_tokens * cache.kv_width * element_bytes(cache.dtype));
    DeviceArray<uint8_t> keys(bytes), values(bytes);
    to_device(keys.get(), cache.keys, bytes);
    to_device(values.get(), cache.values, bytes);
    DeviceArray<float> dq(q), dk(k), dv(v), out_device(out.size());
    DeviceArray<float> sinks(std::vector<float>(p.sinks.data, p.sinks.data + p.sinks.size));
    out_device.poison();
    KvLayerView device_cache = cache;
    device_cache.keys = keys.get();
    device_cache.values = values.get();
    AttentionParameters device_params = p;
    device_params.sinks.data = sinks.get();
    const int64_t rows = layout.rows();
    ctx_->begin_batch(layout);
    backend_->attention(*ctx_, {dq.get(), ElementType::f32, rows, p.heads * int64_t{p.head_dim}},
                        {dk.get(), ElementType::f32, rows, cache.kv_width}, {dv.get(), ElementType::f32, rows, cache.kv_width},
                        device_cache, device_params, {out_device.get(), ElementType::f32, rows, p.heads * int64_t{p.head_dim}});
    ctx_->stream().synchronize();
    out = out_device.download();
    to_host(cache.keys, keys.get(), bytes);
    to_host(cache.values, values.get(), bytes);
  }

 private:
  std::unique_ptr<Backend> backend_;
  std::unique_ptr<ExecutionContext> ctx_;
};

std::vector<std::pair<std::string, test::Attend>> cuda_implementation() {
  auto attend = std::make_shared<CudaAttend>();
  return {{"cuda", [attend](const BatchLayout& layout, const KvLayerView& cache, const std::vector<float>& q,
                            const std::vector<float>& k, const std::vector<float>& v, const AttentionParameters& p,
                            std::vector<float>& out) { (*attend)(layout, cache, q, k, v, p, out); }}};
}

// One sequence's rows [start, end), its keys in kv group `group` of the cache.
BatchLayout one_sequence(test::PagedCache& cache, int64_t start, int64_t end, int window, int group) {
  BatchLayout layout;
  BatchLayout::Sequence s;
  s.start_position = static_cast<int32_t>(start);
  s.rows = end - start;
  const std::vector<int32_t>& table = cache.table(0, first_key_of(start, window), end - 1);
  for (int g = 0; g < kMaxKvGroups; ++g) {
    s.table_offset[size_t(g)] = static_cast<int64_t>(layout.block_tables.size());
    s.table_length[size_t(g)] = static_cast<int32_t>(table.size());
    if (g == group)
      layout.block_tables.insert(layout.block_tables.end(), table.begin(), table.end());
    else
      layout.block_tables.insert(layout.block_tables.end(), table.size(), -1);
  }
  layout.sequences.push_back(s);
  for (int64_t i = start; i < end; ++i) {
    layout.tokens.push_back(0);
    layout.positions.push_back(static_cast<int32_t>(i));
  }
  return layout;
}

TEST(CudaAttention, PagedBatchesMatchDirectFormula20bShape) {
  GPTOSS_REQUIRE_CUDA();
  test::check_shape(test::k20b, cuda_implementation());
}

TEST(CudaAttention, PagedBatchesMatchDirectFormulaSmallShape) {
  GPTOSS_REQUIRE_CUDA();
  test::check_shape(test::kSmall, cuda_implementation());
}

TEST(CudaAttention, LongContextDecodeMatchesDirectFormula) {
  // A 5,000-token prefill in one batch, then a decode step: the decode row's keys are split
  // over many blocks and merged. Checked rows: either end of the prefill, a window edge, the
  // decode row.
  GPTOSS_REQUIRE_CUDA();
  const test::Shape shape = test::k20b;
  constexpr int64_t kLength = 5000;
  const test::Sequence seq = test::random_sequence(shape, kLength, 7);
  const auto sinks = test::random_floats(static_cast<size_t>(shape.heads), 8);
  const int64_t qw = shape.q_width(), kw = shape.kv_width();
  const auto attend = cuda_implementation().front().second;
  for (ElementType dtype : {ElementType::f32, ElementType::bf16})
    for (int window : {0, 128}) {
      SCOPED_TRACE(std::string(element_type_name(dtype)) + " cache, window " + std::to_string(window));
      const int group = window > 0 ? 1 : 0;
      test::PagedCache cache(shape, dtype, 16, kLength / 16 + 1, group, 11);
      const AttentionParameters p{shape.heads, shape.kv_heads, shape.head_dim, window, shape.scale(),
                                  Vector{sinks.data(), shape.heads}};
      std::vector<float> last_out;
      for (const auto& [start, end] : {std::pair<int64_t, int64_t>{0, kLength - 1}, {kLength - 1, kLength}}) {
        const BatchLayout layout = one_sequence(cache, start, end, window, group);
        const std::vector<float> q(seq.q.begin() + start * qw, seq.q.begin() + end * qw);
        const std::vector<float> k(seq.k.begin() + start * kw, seq.k.begin() + end * kw);
        const std::vector<float> v(seq.v.begin() + start * kw, seq.v.begin() + end * kw);
        std::vector<float> out(q.size());
        attend(layout, cache.view(), q, k, v, p, out);
        const auto& keys = dtype == ElementType::bf16 ? test::bf16_rounded(seq.k) : seq.k;
        const auto& values = dtype == ElementType::bf16 ? test::bf16_rounded(seq.v) : seq.v;
        for (int64_t i : {start, start + 127, start + 128, end - 1}) {
          if (i >= end) continue;
          SCOPED_TRACE("position " + std::to_string(i));
          const auto want = test::reference_row(shape, seq.q, keys, values, i, sinks, window);
          const std::vector<float> got(out.begin() + (i - start) * qw, out.begin() + (i - start + 1) * qw);
          test::expect_rows_close(shape, got, want, 1e-5);
        }
      }
    }
}

// rope_attention — RoPE of q and k in the KV store's launch — against rope() of each, then
// attention(), on one backend: the outputs, the rotated q and k, and the stored cache, bit for
// bit, for a prefill and a decode step at 20b's shape (f32 and bf16 caches).
TEST(CudaAttention, RopeInTheKvStoreEqualsRopeThenAttention) {
  GPTOSS_REQUIRE_CUDA();
  const test::Shape shape = test::k20b;
  constexpr int64_t kLength = 40;
  const test::Sequence seq = test::random_sequence(shape, kLength, 21);
  const DeviceArray<float> sinks(test::random_floats(static_cast<size_t>(shape.heads), 22));
  RopeParameters rope;
  for (int i = 0; i < shape.head_dim / 2; ++i)
    rope.inv_freq.push_back(std::pow(150000.f, -static_cast<float>(2 * i) / static_cast<float>(shape.head_dim)));
  rope.attention_scaling = 1.3466f;
  const AttentionParameters p{shape.heads, shape.kv_heads, shape.head_dim, 0, shape.scale(),
                              Vector{sinks.get(), shape.heads}};
  const auto backend = make_backend("cuda", {.threads = 0, .precision = "f32"});
  const auto ctx = backend->make_context();
  const int64_t qw = shape.q_width(), kw = shape.kv_width();
  for (ElementType dtype : {ElementType::f32, ElementType::bf16}) {
    SCOPED_TRACE(std::string(element_type_name(dtype)) + " cache");
    test::PagedCache cache(shape, dtype, 16, kLength / 16 + 1, 0, 23);
    const KvLayerView host = cache.view();
    const auto bytes = static_cast<size_t>(host.blocks * host.block_tokens * host.kv_width * element_bytes(dtype));
    for (const auto& [start, end] : {std::pair<int64_t, int64_t>{0, kLength - 1}, {kLength - 1, kLength}}) {
      const BatchLayout layout = one_sequence(cache, start, end, 0, 0);
      const int64_t rows = end - start;
      const auto slice = [&](const std::vector<float>& all, int64_t width) {
        return std::vector<float>(all.begin() + start * width, all.begin() + end * width);
      };
      struct Run {
        std::vector<float> q, k, out;
        std::vector<uint8_t> keys, values;
      };
      const auto run = [&](bool fused) {
        DeviceArray<float> q(slice(seq.q, qw)), k(slice(seq.k, kw)), v(slice(seq.v, kw)), out(rows * qw);
        DeviceArray<uint8_t> keys(bytes), values(bytes);
        to_device(keys.get(), host.keys, bytes);
        to_device(values.get(), host.values, bytes);
        KvLayerView device = host;
        device.keys = keys.get();
        device.values = values.get();
        const Activations dq{q.get(), ElementType::f32, rows, qw}, dk{k.get(), ElementType::f32, rows, kw},
            dv{v.get(), ElementType::f32, rows, kw}, dout{out.get(), ElementType::f32, rows, qw};
        ctx->begin_batch(layout);
        if (fused) {
          backend->rope_attention(*ctx, dq, dk, dv, rope, device, p, dout);
        } else {
          backend->rope(*ctx, dq, shape.heads, shape.head_dim, rope);
          backend->rope(*ctx, dk, shape.kv_heads, shape.head_dim, rope);
          backend->attention(*ctx, dq, dk, dv, device, p, dout);
        }
        ctx->stream().synchronize();
        Run r{q.download(), k.download(), out.download(), std::vector<uint8_t>(bytes), std::vector<uint8_t>(bytes)};
        to_host(r.keys.data(), keys.get(), bytes);
        to_host(r.values.data(), values.get(), bytes);
        return r;
      };
      const Run separate = run(false), fused = run(true);
      EXPECT_EQ(fused.q, separate.q) << "rows " << start << "–" << end;
      EXPECT_EQ(fused.k, separate.k);
      EXPECT_EQ(fused.out, separate.out);
      EXPECT_EQ(fused.keys, separate.keys);
      EXPECT_EQ(fused.values, separate.values);
      EXPECT_NE(fused.q, slice(seq.q, qw)) << "the queries were rotated";
      // The next batch attends over what this one stored.
      std::copy(fused.keys.begin(), fused.keys.end(), static_cast<uint8_t*>(host.keys));
      std::copy(fused.values.begin(), fused.values.end(), static_cast<uint8_t*>(host.values));
    }
  }
}

TEST(CudaAttention, MissingBlockThrowsBeforeAnyWork) {
  GPTOSS_REQUIRE_CUDA();
  const test::Shape shape = test::kSmall;
  test::PagedCache cache(shape, ElementType::f32, 16, 4, 0, 3);
  BatchLayout layout;
  BatchLayout::Sequence s;
  s.rows = 1;
  s.start_position = 20;
  layout.block_tables = {cache.table(0, 0, 20)[0], -1, -1, -1};  // position 20's block is missing
  s.table_offset = {0, 2};
  s.table_length = {2, 2};
  layout.sequences = {s};
  layout.tokens = {0};
  layout.positions = {20};
  const auto sinks = test::random_floats(static_cast<size_t>(shape.heads), 1);
  const AttentionParameters p{shape.heads, shape.kv_heads, shape.head_dim, 0, shape.scale(),
                              Vector{sinks.data(), shape.heads}};
  std::vector<float> q = test::random_floats(static_cast<size_t>(shape.q_width()), 2);
  std::vector<float> kv = test::random_floats(static_cast<size_t>(shape.kv_width()), 3), out(q.size());
  const auto attend = cuda_implementation().front().second;
  EXPECT_THROW(attend(layout, cache.view(), q, kv, kv, p, out), Error);
}

}  // namespace
}  // namespace gptoss
