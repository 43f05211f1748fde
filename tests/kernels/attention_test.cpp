// Attention over a paged KV cache: sinks, GQA and sliding windows, several sequences at
// different positions in one batch, fed batch by batch through store_kv and attention_rows
// (as prefill and decode do) with shuffled block ids, f32 and bf16 caches, every kernel set —
// against a direct double-precision evaluation of the formula over each sequence's keys in
// one contiguous list. The softmax kernel on its own; store_kv's placement and its errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <random>
#include <string>

#include "backend/cpu/attention.h"
#include "gptoss/error.h"
#include "kernels/paged_attention_fixture.h"
#include "quant/float_formats.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

std::vector<const CpuKernels*> kernel_sets() {
  std::vector<const CpuKernels*> sets = {&scalar_kernels()};
  if (avx2_kernels() != nullptr) sets.push_back(avx2_kernels());
  if (avx512_kernels() != nullptr) sets.push_back(avx512_kernels());
  return sets;
}

// The CPU implementations: one per kernel set.
std::vector<std::pair<std::string, test::Attend>> cpu_implementations() {
  std::vector<std::pair<std::string, test::Attend>> implementations;
  for (const CpuKernels* kernels : kernel_sets())
    implementations.emplace_back(kernels->name, [kernels](const BatchLayout& layout, const KvLayerView& cache,
                                                          const std::vector<float>& q, const std::vector<float>& k,
                                                          const std::vector<float>& v, const AttentionParameters& p,
                                                          std::vector<float>& out) {
      ThreadPool pool(2);
      store_kv(k.data(), v.data(), layout, cache);
      attention_rows(q.data(), layout, cache, p, out.data(), pool, *kernels);
    });
  return implementations;
}

TEST(Attention, PagedBatchesMatchDirectFormula20bShape) { test::check_shape(test::k20b, cpu_implementations()); }
TEST(Attention, PagedBatchesMatchDirectFormulaSmallShape) { test::check_shape(test::kSmall, cpu_implementations()); }

TEST(Attention, LargeSinkTakesTheMass) {
  // A sink far above every score leaves almost nothing for the values.
  const test::Shape shape = test::kSmall;
  const std::vector<float> sinks(static_cast<size_t>(shape.heads), 60.f);
  const std::vector<test::Sequence> seqs = test::scheduled_sequences(shape);
  for (const auto& [name, attend] : cpu_implementations()) {
    const auto out = test::run_paged({shape, ElementType::bf16, 16, 0}, seqs, sinks, attend);
    for (const auto& seq_out : out)
      for (float x : seq_out) ASSERT_LT(std::abs(x), 1e-10) << name;
  }
}

TEST(AttentionSoftmax, EveryKernelSetMatchesDoublePrecision) {
  // Row lengths around every vector width (the SIMD sets finish rows through a padded vector),
  // scores spread widely, sinks both above and below the scores.
  for (const CpuKernels* kernels : kernel_sets())
    for (int64_t m : {1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 100, 1000}) {
      SCOPED_TRACE(std::string(kernels->name) + ", " + std::to_string(m) + " scores");
      const int64_t n = 3, stride = m + 5;
      const auto scores = test::random_floats(static_cast<size_t>(n * stride), static_cast<uint32_t>(m), 40.f);
      const std::vector<float> sinks = {0.5f, 25.f, -30.f};
      std::vector<float> s = scores, z(static_cast<size_t>(n), NAN);
      kernels->attention_softmax(s.data(), n, stride, m, 0.125f, sinks.data(), z.data());
      for (int64_t h = 0; h < n; ++h) {
        double max = sinks[size_t(h)];
        for (int64_t j = 0; j < m; ++j) max = std::max(max, 0.125 * scores[size_t(h * stride + j)]);
        double sum = std::exp(sinks[size_t(h)] - max);
        for (int64_t j = 0; j < m; ++j) {
          const double x = 0.125 * scores[size_t(h * stride + j)] - max, e = std::exp(x);
          sum += e;
          // exp of an argument rounded to float: relative error ~ 2^-24 · |x| on top of exp's own.
          ASSERT_NEAR(s[size_t(h * stride + j)], e, (1e-6 + 2.4e-7 * std::abs(x)) * e) << "head " << h << " score " << j;
        }
        // A float sum of m + 1 terms: relative error up to ~m · 2^-24.
        ASSERT_NEAR(z[size_t(h)], sum, (1e-6 + 6e-8 * static_cast<double>(m)) * sum) << "head " << h;
        for (int64_t j = m; j < stride; ++j) ASSERT_EQ(s[size_t(h * stride + j)], scores[size_t(h * stride + j)]);
      }
    }
}

// ---- store_kv

struct StoreCase {
  static constexpr int64_t kWidth = 64, kBlockTokens = 4, kBlocks = 8;
  ElementType dtype;
  std::vector<uint8_t> keys, values;
  explicit StoreCase(ElementType t)
      : dtype(t), keys(static_cast<size_t>(kBlocks * kBlockTokens * kWidth * element_bytes(t)), 0xff), values(keys) {}
  KvLayerView view(int group) { return {keys.data(), values.data(), dtype, kBlocks, static_cast<int>(kBlockTokens), kWidth, group}; }
  // The stored element as f32 bits, or as bf16 bits.
  uint32_t key_bits(int64_t block, int64_t token, int64_t c) const { return bits(keys, block, token, c); }
  uint32_t value_bits(int64_t block, int64_t token, int64_t c) const { return bits(values, block, token, c); }
  uint32_t bits(const std::vector<uint8_t>& bytes, int64_t block, int64_t token, int64_t c) const {
    const int64_t e = (block * kBlockTokens + token) * kWidth + c;
    if (dtype == ElementType::f32) {
      uint32_t u;
      std::memcpy(&u, bytes.data() + 4 * e, 4);
      return u;
    }
    uint16_t h;
    std::memcpy(&h, bytes.data() + 2 * e, 2);
    return h;
  }
  uint32_t expected(float x) const { return dtype == ElementType::f32 ? std::bit_cast<uint32_t>(x) : f32_to_bf16(x); }
  uint32_t untouched() const { return dtype == ElementType::f32 ? 0xffffffffu : 0xffffu; }
};

// Two sequences: A stores positions 5..10 (a prefill chunk), B position 13 (a decode step),
// with windowed tables (group 1) whose early blocks were released.
BatchLayout store_layout() {
  BatchLayout layout;
  // Group 0 tables (unused here) and group 1 tables: A = {−1, 6, 2}, B = {−1, −1, −1, 0}.
  layout.block_tables = {3, 6, 2, /* B g0 */ 5, 1, 4, 0, /* A g1 */ -1, 6, 2, /* B g1 */ -1, -1, -1, 0};
  BatchLayout::Sequence a;
  a.start_position = 5;
  a.first_row = 0;
  a.rows = 6;
  a.table_offset = {0, 7};
  a.table_length = {3, 3};
  BatchLayout::Sequence b;
  b.start_position = 13;
  b.first_row = 6;
  b.rows = 1;
  b.table_offset = {3, 10};
  b.table_length = {4, 4};
  layout.sequences = {a, b};
  layout.positions = {5, 6, 7, 8, 9, 10, 13};
  layout.tokens.assign(7, 0);
  return layout;
}

TEST(StoreKv, ValuesLandInTheirBlockAndToken) {
  for (ElementType dtype : {ElementType::f32, ElementType::bf16}) {
    SCOPED_TRACE(element_type_name(dtype));
    StoreCase c(dtype);
    const BatchLayout layout = store_layout();
    const auto k = test::random_floats(static_cast<size_t>(7 * StoreCase::kWidth), 1);
    const auto v = test::random_floats(k.size(), 2);
    store_kv(k.data(), v.data(), layout, c.view(1));
    // row → (block, token) by the group-1 tables.
    std::map<std::pair<int64_t, int64_t>, int64_t> row_at = {{{6, 1}, 0}, {{6, 2}, 1}, {{6, 3}, 2},
                                                             {{2, 0}, 3}, {{2, 1}, 4}, {{2, 2}, 5}, {{0, 1}, 6}};
    for (int64_t block = 0; block < StoreCase::kBlocks; ++block)
      for (int64_t token = 0; token < StoreCase::kBlockTokens; ++token) {
        const auto found = row_at.find({block, token});
        for (int64_t ch = 0; ch < StoreCase::kWidth; ++ch) {
          if (found == row_at.end()) {
            ASSERT_EQ(c.key_bits(block, token, ch), c.untouched()) << "block " << block << " token " << token;
            ASSERT_EQ(c.value_bits(block, token, ch), c.untouched()) << "block " << block << " token " << token;
            continue;
          }
          const size_t e = static_cast<size_t>(found->second * StoreCase::kWidth + ch);
          ASSERT_EQ(c.key_bits(block, token, ch), c.expected(k[e])) << "block " << block << " token " << token;
          ASSERT_EQ(c.value_bits(block, token, ch), c.expected(v[e])) << "block " << block << " token " << token;
        }
      }
  }
}

TEST(StoreKv, Bf16RoundsToNearestEven) {
  StoreCase c(ElementType::bf16);
  BatchLayout layout = store_layout();
  std::vector<float> k(static_cast<size_t>(7 * StoreCase::kWidth), 1.f), v(k.size(), 1.f);
  k[0] = std::bit_cast<float>(0x3f808000u);  // halfway between 0x3f80 and 0x3f81: to even 0x3f80
  k[1] = std::bit_cast<float>(0x3f818000u);  // halfway between 0x3f81 and 0x3f82: to even 0x3f82
  k[2] = std::bit_cast<float>(0x3f808001u);  // above halfway: up
  store_kv(k.data(), v.data(), layout, c.view(1));
  EXPECT_EQ(c.key_bits(6, 1, 0), 0x3f80u);
  EXPECT_EQ(c.key_bits(6, 1, 1), 0x3f82u);
  EXPECT_EQ(c.key_bits(6, 1, 2), 0x3f81u);
}

TEST(StoreKv, MissingBlockForAStoredPositionThrows) {
  StoreCase c(ElementType::f32);
  const auto k = test::random_floats(static_cast<size_t>(7 * StoreCase::kWidth), 1);
  BatchLayout layout = store_layout();
  layout.block_tables[9] = -1;  // A's block for positions 8..11, group 1
  EXPECT_THROW(store_kv(k.data(), k.data(), layout, c.view(1)), Error);
  layout = store_layout();
  layout.sequences[1].table_length[1] = 3;  // B's position 13 past its table
  EXPECT_THROW(store_kv(k.data(), k.data(), layout, c.view(1)), Error);
  layout = store_layout();
  layout.block_tables[13] = StoreCase::kBlocks;  // outside the pool
  EXPECT_THROW(store_kv(k.data(), k.data(), layout, c.view(1)), Error);
  StoreCase half(ElementType::f16);
  EXPECT_THROW(store_kv(k.data(), k.data(), store_layout(), half.view(1)), Error);
}

TEST(Attention, MissingBlockForAnAttendedPositionThrows) {
  // Window 8 at positions 5..10 reads positions 0..10: A's released block 0 (group 1) is needed.
  StoreCase c(ElementType::f32);
  const BatchLayout layout = store_layout();
  const auto k = test::random_floats(static_cast<size_t>(7 * StoreCase::kWidth), 1);
  store_kv(k.data(), k.data(), layout, c.view(1));
  const std::vector<float> sinks(2, 0.f);
  const auto q = test::random_floats(static_cast<size_t>(7 * 2 * 32), 3);
  std::vector<float> out(q.size());
  ThreadPool pool(2);
  EXPECT_THROW(attention_rows(q.data(), layout, c.view(1), {2, 2, 32, 8, 0.2f, Vector{sinks.data(), 2}}, out.data(), pool),
               Error);
  // Window 2 reads positions 4..10 and 12..13: all present.
  EXPECT_NO_THROW(
      attention_rows(q.data(), layout, c.view(1), {2, 2, 32, 2, 0.2f, Vector{sinks.data(), 2}}, out.data(), pool));
}

}  // namespace
}  // namespace gptoss
