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
#include "quant/float_formats.h"
#include "support/test_support.h"

namespace gptoss {
namespace {


struct Shape {
  int heads, kv_heads, head_dim;
  int64_t q_width() const { return int64_t{heads} * head_dim; }
  int64_t kv_width() const { return int64_t{kv_heads} * head_dim; }
  float scale() const { return 1.f / std::sqrt(static_cast<float>(head_dim)); }
  std::string name() const {
    return std::to_string(heads) + ":" + std::to_string(kv_heads) + "x" + std::to_string(head_dim);
  }
};

constexpr Shape k20b{64, 8, 64};  // gpt-oss-20b
constexpr Shape kSmall{6, 2, 32};  // groups of 3 query heads: the kernels' odd tails

std::vector<const CpuKernels*> kernel_sets() {
  std::vector<const CpuKernels*> sets = {&scalar_kernels()};
  if (avx2_kernels() != nullptr) sets.push_back(avx2_kernels());
  if (avx512_kernels() != nullptr) sets.push_back(avx512_kernels());
  return sets;
}

// One sequence's queries, keys and values at every position, [position, width].
struct Sequence {
  int64_t length;
  std::vector<float> q, k, v;
};

Sequence random_sequence(const Shape& shape, int64_t length, uint32_t seed) {
  return {length, test::random_floats(static_cast<size_t>(length * shape.q_width()), seed),
          test::random_floats(static_cast<size_t>(length * shape.kv_width()), seed + 1),
          test::random_floats(static_cast<size_t>(length * shape.kv_width()), seed + 2)};
}

std::vector<float> bf16_rounded(std::vector<float> x) {
  for (float& e : x) e = round_to_bf16(e);
  return x;
}

// Every position's output [length, q_width], straight from the definition: the keys of the
// sequence in one contiguous list, sums in double precision.
std::vector<float> reference(const Shape& shape, const std::vector<float>& q, const std::vector<float>& k,
                             const std::vector<float>& v, int64_t length, const std::vector<float>& sinks, int window) {
  const int64_t qw = shape.q_width(), kw = shape.kv_width(), d = shape.head_dim;
  std::vector<float> out(static_cast<size_t>(length * qw));
  std::vector<double> s, acc(static_cast<size_t>(d));
  for (int64_t i = 0; i < length; ++i)
    for (int h = 0; h < shape.heads; ++h) {
      const int g = h / (shape.heads / shape.kv_heads);
      const int64_t first = window > 0 ? std::max<int64_t>(0, i - window + 1) : 0;
      s.clear();
      for (int64_t j = first; j <= i; ++j) {
        double dot = 0;
        for (int64_t c = 0; c < d; ++c) dot += double(q[size_t(i * qw + h * d + c)]) * k[size_t(j * kw + g * d + c)];
        s.push_back(dot * shape.scale());
      }
      double m = sinks[size_t(h)];
      for (double x : s) m = std::max(m, x);
      double z = std::exp(sinks[size_t(h)] - m);
      for (double x : s) z += std::exp(x - m);
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t j = first; j <= i; ++j) {
        const double weight = std::exp(s[size_t(j - first)] - m) / z;
        for (int64_t c = 0; c < d; ++c) acc[size_t(c)] += weight * v[size_t(j * kw + g * d + c)];
      }
      for (int64_t c = 0; c < d; ++c) out[size_t(i * qw + h * d + c)] = static_cast<float>(acc[size_t(c)]);
    }
  return out;
}

// A pool of KV blocks, poisoned with NaN wherever nothing was stored, and the block tables of
// the sequences using it. Blocks are handed out in a shuffled order (with some runs of
// consecutive ids); a windowed layer's blocks that fall out of every future window are
// poisoned again and handed to others.
class PagedCache {
 public:
  PagedCache(const Shape& shape, ElementType dtype, int block_tokens, int64_t blocks, int group, uint32_t seed)
      : dtype_(dtype), block_tokens_(block_tokens), blocks_(blocks), group_(group), width_(shape.kv_width()),
        keys_(static_cast<size_t>(blocks * block_tokens * width_ * element_bytes(dtype))),
        values_(keys_.size()), rng_(seed) {
    // Runs of 1 to 3 consecutive ids (which attention may read as one stretch) in shuffled
    // order, each run stored descending so that it is handed out ascending.
    std::vector<std::vector<int32_t>> runs;
    for (int32_t b = 0; b < blocks;) {
      runs.emplace_back();
      for (int64_t n = 1 + rng_() % 3; n > 0 && b < blocks; --n) runs.back().insert(runs.back().begin(), b++);
    }
    std::shuffle(runs.begin(), runs.end(), rng_);
    for (const auto& run : runs) free_.insert(free_.end(), run.begin(), run.end());
    for (int64_t b = 0; b < blocks; ++b) poison(b);
  }

  KvLayerView view() {
    return {keys_.data(), values_.data(), dtype_, blocks_, block_tokens_, width_, group_};
  }

  // The table of sequence s, grown to cover `last` and with the blocks before `keep_from`
  // released (−1).
  const std::vector<int32_t>& table(size_t s, int64_t keep_from, int64_t last) {
    if (tables_.size() <= s) tables_.resize(s + 1);
    std::vector<int32_t>& t = tables_[s];
    for (int64_t i = 0; i < keep_from / block_tokens_ && i < static_cast<int64_t>(t.size()); ++i)
      if (t[size_t(i)] >= 0) {
        poison(t[size_t(i)]);
        free_.insert(free_.begin() + static_cast<int64_t>(rng_() % (free_.size() + 1)), t[size_t(i)]);
        t[size_t(i)] = -1;
      }
    while (static_cast<int64_t>(t.size()) <= last / block_tokens_) {
      if (free_.empty()) throw std::runtime_error("test pool too small");
      t.push_back(free_.back());
      free_.pop_back();
    }
    return t;
  }

 private:
  void poison(int64_t block) {
    const int64_t n = block_tokens_ * width_;
    for (auto* bytes : {&keys_, &values_}) {
      if (dtype_ == ElementType::f32) {
        float* p = reinterpret_cast<float*>(bytes->data()) + block * n;
        std::fill(p, p + n, std::numeric_limits<float>::quiet_NaN());
      } else {
        uint16_t* p = reinterpret_cast<uint16_t*>(bytes->data()) + block * n;
        std::fill(p, p + n, uint16_t{0x7fc0});
      }
    }
  }

  ElementType dtype_;
  int block_tokens_;
  int64_t blocks_;
  int group_;
  int64_t width_;
  std::vector<uint8_t> keys_, values_;
  std::mt19937 rng_;
  std::vector<int32_t> free_;
  std::vector<std::vector<int32_t>> tables_;
};

// The rows each sequence brings to each batch (0: not in that batch): prefills of several
// sizes, decode steps, a sequence that joins late; every batch mixes sequences at different
// positions.
const std::vector<std::vector<int64_t>> kSchedule = {
    {100, 1, 1, 30, 1, 17, 1},  // 151
    {0, 17, 1, 1, 18},          // 37
    {0, 0, 64, 1, 50, 1, 24},   // 140
};

struct Case {
  const Shape& shape;
  ElementType dtype;
  int block_tokens;
  int window;
};

// Runs every sequence through the schedule and returns each one's outputs [length, q_width].
std::vector<std::vector<float>> run_paged(const Case& c, const std::vector<Sequence>& seqs,
                                          const std::vector<float>& sinks, const CpuKernels& kernels) {
  const int64_t qw = c.shape.q_width(), kw = c.shape.kv_width();
  const int group = c.window > 0 ? 1 : 0;  // the other group's tables are there, and unusable
  PagedCache cache(c.shape, c.dtype, c.block_tokens, 64, group, 7u + static_cast<uint32_t>(c.block_tokens));
  const AttentionParameters p{c.shape.heads, c.shape.kv_heads, c.shape.head_dim, c.window, c.shape.scale(),
                              Vector{sinks.data(), c.shape.heads}};
  std::vector<std::vector<float>> outputs(seqs.size());
  std::vector<int64_t> done(seqs.size(), 0);
  ThreadPool pool(2);
  for (size_t step = 0;; ++step) {
    BatchLayout layout;
    std::vector<float> q, k, v;
    for (size_t s = 0; s < seqs.size(); ++s) {
      if (step >= kSchedule[s].size() || kSchedule[s][step] == 0) continue;
      const int64_t start = done[s], end = start + kSchedule[s][step];
      BatchLayout::Sequence seq;
      seq.start_position = static_cast<int32_t>(start);
      seq.first_row = layout.rows();
      seq.rows = end - start;
      const int64_t first_key = c.window > 0 ? std::max<int64_t>(0, start - c.window + 1) : 0;
      const std::vector<int32_t>& table = cache.table(s, first_key, end - 1);
      seq.table_offset[size_t(group)] = static_cast<int64_t>(layout.block_tables.size());
      seq.table_length[size_t(group)] = static_cast<int32_t>(table.size());
      layout.block_tables.insert(layout.block_tables.end(), table.begin(), table.end());
      seq.table_offset[size_t(1 - group)] = static_cast<int64_t>(layout.block_tables.size());
      seq.table_length[size_t(1 - group)] = static_cast<int32_t>(table.size());
      layout.block_tables.insert(layout.block_tables.end(), table.size(), -1);
      layout.sequences.push_back(seq);
      for (int64_t i = start; i < end; ++i) {
        layout.tokens.push_back(0);
        layout.positions.push_back(static_cast<int32_t>(i));
      }
      q.insert(q.end(), seqs[s].q.begin() + start * qw, seqs[s].q.begin() + end * qw);
      k.insert(k.end(), seqs[s].k.begin() + start * kw, seqs[s].k.begin() + end * kw);
      v.insert(v.end(), seqs[s].v.begin() + start * kw, seqs[s].v.begin() + end * kw);
      done[s] = end;
    }
    if (layout.sequences.empty()) break;
    std::vector<float> out(static_cast<size_t>(layout.rows() * qw), std::numeric_limits<float>::quiet_NaN());
    store_kv(k.data(), v.data(), layout, cache.view());
    attention_rows(q.data(), layout, cache.view(), p, out.data(), pool, kernels);
    size_t s = 0;
    for (const auto& seq : layout.sequences) {
      while (step >= kSchedule[s].size() || kSchedule[s][step] == 0) ++s;
      outputs[s].insert(outputs[s].end(), out.begin() + seq.first_row * qw, out.begin() + (seq.first_row + seq.rows) * qw);
      ++s;
    }
  }
  for (size_t s = 0; s < seqs.size(); ++s) EXPECT_EQ(done[s], seqs[s].length) << "schedule of sequence " << s;
  return outputs;
}

// Every row's relative L2 error against the reference is at most `tolerance`.
void expect_rows_close(const Shape& shape, const std::vector<float>& got, const std::vector<float>& want,
                       double tolerance) {
  ASSERT_EQ(got.size(), want.size());
  const size_t qw = static_cast<size_t>(shape.q_width());
  for (size_t row = 0; row * qw < got.size(); ++row) {
    const double error = test::relative_l2(got.data() + row * qw, want.data() + row * qw, qw);
    ASSERT_TRUE(std::isfinite(error)) << "row " << row << " has a NaN (read an unwritten or released slot?)";
    ASSERT_LE(error, tolerance) << "row " << row;
  }
}

// Random sequences of the schedule's lengths.
std::vector<Sequence> scheduled_sequences(const Shape& shape) {
  std::vector<Sequence> seqs;
  for (size_t s = 0; s < kSchedule.size(); ++s) {
    int64_t length = 0;
    for (int64_t n : kSchedule[s]) length += n;
    seqs.push_back(random_sequence(shape, length, 100 + 10 * static_cast<uint32_t>(s)));
  }
  return seqs;
}

void check_shape(const Shape& shape) {
  const std::vector<Sequence> seqs = scheduled_sequences(shape);
  const auto sinks = test::random_floats(static_cast<size_t>(shape.heads), 99);
  for (int window : {0, 16, 128}) {
    // References on the exact keys/values and on their bf16 roundings, per sequence.
    std::vector<std::vector<float>> exact, rounded;
    for (const auto& seq : seqs) {
      exact.push_back(reference(shape, seq.q, seq.k, seq.v, seq.length, sinks, window));
      rounded.push_back(reference(shape, seq.q, bf16_rounded(seq.k), bf16_rounded(seq.v), seq.length, sinks, window));
    }
    for (const CpuKernels* kernels : kernel_sets())
      for (int block_tokens : {16, 32})
        for (ElementType dtype : {ElementType::f32, ElementType::bf16}) {
          SCOPED_TRACE(shape.name() + ", " + kernels->name + ", window " + std::to_string(window) + ", blocks of " +
                       std::to_string(block_tokens) + ", " + element_type_name(dtype) + " cache");
          const auto out = run_paged({shape, dtype, block_tokens, window}, seqs, sinks, *kernels);
          for (size_t s = 0; s < seqs.size(); ++s) {
            SCOPED_TRACE("sequence " + std::to_string(s));
            if (dtype == ElementType::f32) {
              expect_rows_close(shape, out[s], exact[s], 1e-5);
            } else {
              expect_rows_close(shape, out[s], rounded[s], 1e-5);
              expect_rows_close(shape, out[s], exact[s], 1e-2);  // what bf16 storage costs (≈ 4e-3)
            }
          }
        }
  }
}

TEST(Attention, PagedBatchesMatchDirectFormula20bShape) { check_shape(k20b); }
TEST(Attention, PagedBatchesMatchDirectFormulaSmallShape) { check_shape(kSmall); }

TEST(Attention, LargeSinkTakesTheMass) {
  // A sink far above every score leaves almost nothing for the values.
  const Shape shape = kSmall;
  const std::vector<float> sinks(static_cast<size_t>(shape.heads), 60.f);
  const std::vector<Sequence> seqs = scheduled_sequences(shape);
  for (const CpuKernels* kernels : kernel_sets()) {
    const auto out = run_paged({shape, ElementType::bf16, 16, 0}, seqs, sinks, *kernels);
    for (const auto& seq_out : out)
      for (float x : seq_out) ASSERT_LT(std::abs(x), 1e-10) << kernels->name;
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
