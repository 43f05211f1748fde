// Attention with sinks, GQA and sliding windows, fed chunk by chunk through a KV cache (a ring
// for windowed layers), against a direct double-precision evaluation of the formula.
#include <gtest/gtest.h>

#include <cmath>

#include "backend/cpu/attention.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

constexpr int kHeads = 6, kKvHeads = 2, kDim = 64;  // groups of 3 query heads

// out[i, h] = Σ_j softmax_j([s_ij ; sink_h]) v_j over the allowed keys, straight from the definition.
std::vector<float> reference(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                             const std::vector<float>& sinks, int64_t t, int window, float scale) {
  std::vector<float> out(static_cast<size_t>(t * kHeads * kDim));
  for (int64_t i = 0; i < t; ++i)
    for (int h = 0; h < kHeads; ++h) {
      const int g = h / (kHeads / kKvHeads);
      std::vector<double> s;
      std::vector<int64_t> keys;
      for (int64_t j = 0; j <= i; ++j) {
        if (window > 0 && j <= i - window) continue;
        double d = 0;
        for (int c = 0; c < kDim; ++c) d += double(q[(i * kHeads + h) * kDim + c]) * k[(j * kKvHeads + g) * kDim + c];
        s.push_back(d * scale);
        keys.push_back(j);
      }
      double m = sinks[h];
      for (double x : s) m = std::max(m, x);
      double z = std::exp(sinks[h] - m);
      for (double x : s) z += std::exp(x - m);
      for (int c = 0; c < kDim; ++c) {
        double acc = 0;
        for (size_t n = 0; n < s.size(); ++n) acc += std::exp(s[n] - m) / z * v[(keys[n] * kKvHeads + g) * kDim + c];
        out[(i * kHeads + h) * kDim + c] = static_cast<float>(acc);
      }
    }
  return out;
}

struct Sequence {
  int64_t length;
  std::vector<float> q, k, v;
};

Sequence random_sequence(int64_t length, uint32_t seed) {
  return {length, test::random_floats(static_cast<size_t>(length * kHeads * kDim), seed),
          test::random_floats(static_cast<size_t>(length * kKvHeads * kDim), seed + 1),
          test::random_floats(static_cast<size_t>(length * kKvHeads * kDim), seed + 2)};
}

// Runs `sequences` (one per cache slot) through attention in chunks of `chunk` positions,
// all sequences in the same batch, and returns each sequence's outputs.
std::vector<std::vector<float>> run_chunked(const std::vector<Sequence>& sequences, int64_t chunk, int window,
                                            int64_t capacity, const std::vector<float>& sinks,
                                            const CpuKernels& kernels = best_cpu_kernels()) {
  const int64_t qw = kHeads * kDim, kw = kKvHeads * kDim;
  std::vector<float> keys(sequences.size() * static_cast<size_t>(capacity * kw), NAN);
  std::vector<float> values(keys.size(), NAN);
  const KvLayer cache{keys.data(), values.data(), capacity, static_cast<int64_t>(sequences.size())};
  const AttentionParameters p{kHeads, kKvHeads, kDim, window, 0.125f, Vector{sinks.data(), kHeads}};
  std::vector<std::vector<float>> outputs(sequences.size());
  ThreadPool pool(2);
  for (int64_t start = 0;; start += chunk) {
    BatchLayout layout;
    std::vector<float> q, k, v;
    for (size_t s = 0; s < sequences.size(); ++s) {
      const int64_t end = std::min(sequences[s].length, start + chunk);
      if (end <= start) continue;
      layout.sequences.push_back({static_cast<int>(s), static_cast<int32_t>(start), layout.rows(), end - start});
      for (int64_t i = start; i < end; ++i) {
        layout.tokens.push_back(0);
        layout.positions.push_back(static_cast<int32_t>(i));
      }
      q.insert(q.end(), sequences[s].q.begin() + start * qw, sequences[s].q.begin() + end * qw);
      k.insert(k.end(), sequences[s].k.begin() + start * kw, sequences[s].k.begin() + end * kw);
      v.insert(v.end(), sequences[s].v.begin() + start * kw, sequences[s].v.begin() + end * kw);
    }
    if (layout.sequences.empty()) break;
    std::vector<float> out(static_cast<size_t>(layout.rows() * qw));
    attention_rows(q.data(), k.data(), v.data(), layout, cache, p, out.data(), pool, kernels);
    store_kv(k.data(), v.data(), layout, kw, cache);
    for (const auto& seq : layout.sequences)
      outputs[static_cast<size_t>(seq.slot)].insert(outputs[static_cast<size_t>(seq.slot)].end(),
                                                    out.begin() + seq.first_row * qw,
                                                    out.begin() + (seq.first_row + seq.rows) * qw);
  }
  return outputs;
}

std::vector<const CpuKernels*> kernel_sets() {
  std::vector<const CpuKernels*> sets = {&scalar_kernels()};
  if (avx2_kernels() != nullptr) sets.push_back(avx2_kernels());
  if (avx512_kernels() != nullptr) sets.push_back(avx512_kernels());
  return sets;
}

void expect_close(const std::vector<float>& a, const std::vector<float>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 2e-5) << "element " << i;
}

TEST(Attention, FullCausalInChunksMatchesDirectFormula) {
  const auto sinks = test::random_floats(kHeads, 99);
  const std::vector<Sequence> seqs = {random_sequence(23, 1), random_sequence(9, 10), random_sequence(31, 20)};
  for (const CpuKernels* kernels : kernel_sets())
    for (int64_t chunk : {1, 4, 7, 40}) {
      SCOPED_TRACE(std::string(kernels->name) + ", chunks of " + std::to_string(chunk));
      const auto out = run_chunked(seqs, chunk, 0, 40, sinks, *kernels);
      for (size_t s = 0; s < seqs.size(); ++s)
        expect_close(out[s], reference(seqs[s].q, seqs[s].k, seqs[s].v, sinks, seqs[s].length, 0, 0.125f));
    }
}

TEST(Attention, SlidingWindowRingMatchesDirectFormula) {
  const auto sinks = test::random_floats(kHeads, 98);
  const std::vector<Sequence> seqs = {random_sequence(29, 3), random_sequence(6, 30)};
  const int window = 5;
  for (const CpuKernels* kernels : kernel_sets())
    for (int64_t chunk : {1, 3, 5, 6, 13, 29}) {
      SCOPED_TRACE(std::string(kernels->name) + ", chunks of " + std::to_string(chunk));
      const auto out = run_chunked(seqs, chunk, window, window, sinks, *kernels);
      for (size_t s = 0; s < seqs.size(); ++s)
        expect_close(out[s], reference(seqs[s].q, seqs[s].k, seqs[s].v, sinks, seqs[s].length, window, 0.125f));
    }
}

TEST(Attention, LargeSinkTakesTheMass) {
  // A sink far above every score leaves almost nothing for the values.
  const std::vector<float> sinks(kHeads, 60.f);
  const auto out = run_chunked({random_sequence(4, 5)}, 4, 0, 4, sinks);
  for (float x : out[0]) EXPECT_LT(std::abs(x), 1e-10);
}

}  // namespace
}  // namespace gptoss
