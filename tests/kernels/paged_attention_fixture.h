// The paged-attention test bench both backends' tests share: random sequences fed batch by
// batch through an attention implementation (store the batch's keys and values, then attend)
// over a paged cache with shuffled block ids and released windowed blocks, against a direct
// double-precision evaluation of the formula over each sequence's keys in one contiguous list.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "backend/backend.h"
#include "backend/kv_blocks.h"
#include "quant/float_formats.h"
#include "support/test_support.h"

namespace gptoss::test {

// One batch through the implementation under test: store k and v at the rows' positions in
// the (host) cache, then write attention of q into out, [rows, heads · head_dim].
using Attend = std::function<void(const BatchLayout& layout, const KvLayerView& cache, const std::vector<float>& q,
                                  const std::vector<float>& k, const std::vector<float>& v,
                                  const AttentionParameters& params, std::vector<float>& out)>;

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

// One sequence's queries, keys and values at every position, [position, width].
struct Sequence {
  int64_t length;
  std::vector<float> q, k, v;
};

inline Sequence random_sequence(const Shape& shape, int64_t length, uint32_t seed) {
  return {length, random_floats(static_cast<size_t>(length * shape.q_width()), seed),
          random_floats(static_cast<size_t>(length * shape.kv_width()), seed + 1),
          random_floats(static_cast<size_t>(length * shape.kv_width()), seed + 2)};
}

inline std::vector<float> bf16_rounded(std::vector<float> x) {
  for (float& e : x) e = round_to_bf16(e);
  return x;
}

// Position i's output [q_width] straight from the definition: the keys of the sequence in one
// contiguous list, sums in double precision.
inline std::vector<float> reference_row(const Shape& shape, const std::vector<float>& q, const std::vector<float>& k,
                                        const std::vector<float>& v, int64_t i, const std::vector<float>& sinks,
                                        int window) {
  const int64_t qw = shape.q_width(), kw = shape.kv_width(), d = shape.head_dim;
  std::vector<float> out(static_cast<size_t>(qw));
  std::vector<double> s, acc(static_cast<size_t>(d));
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
    for (int64_t c = 0; c < d; ++c) out[size_t(h * d + c)] = static_cast<float>(acc[size_t(c)]);
  }
  return out;
}

// Every position's output [length, q_width].
inline std::vector<float> reference(const Shape& shape, const std::vector<float>& q, const std::vector<float>& k,
                                    const std::vector<float>& v, int64_t length, const std::vector<float>& sinks,
                                    int window) {
  std::vector<float> out;
  for (int64_t i = 0; i < length; ++i) {
    const std::vector<float> row = reference_row(shape, q, k, v, i, sinks, window);
    out.insert(out.end(), row.begin(), row.end());
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
inline const std::vector<std::vector<int64_t>> kSchedule = {
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
inline std::vector<std::vector<float>> run_paged(const Case& c, const std::vector<Sequence>& seqs,
                                          const std::vector<float>& sinks, const Attend& attend) {
  const int64_t qw = c.shape.q_width(), kw = c.shape.kv_width();
  const int group = c.window > 0 ? 1 : 0;  // the other group's tables are there, and unusable
  PagedCache cache(c.shape, c.dtype, c.block_tokens, 64, group, 7u + static_cast<uint32_t>(c.block_tokens));
  const AttentionParameters p{c.shape.heads, c.shape.kv_heads, c.shape.head_dim, c.window, c.shape.scale(),
                              Vector{sinks.data(), c.shape.heads}};
  std::vector<std::vector<float>> outputs(seqs.size());
  std::vector<int64_t> done(seqs.size(), 0);
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
      const std::vector<int32_t>& table = cache.table(s, first_key_of(start, c.window), end - 1);
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
    attend(layout, cache.view(), q, k, v, p, out);
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
inline void expect_rows_close(const Shape& shape, const std::vector<float>& got, const std::vector<float>& want,
                       double tolerance) {
  ASSERT_EQ(got.size(), want.size());
  const size_t qw = static_cast<size_t>(shape.q_width());
  for (size_t row = 0; row * qw < got.size(); ++row) {
    const double error = relative_l2(got.data() + row * qw, want.data() + row * qw, qw);
    ASSERT_TRUE(std::isfinite(error)) << "row " << row << " has a NaN (read an unwritten or released slot?)";
    ASSERT_LE(error, tolerance) << "row " << row;
  }
}

// Random sequences of the schedule's lengths.
inline std::vector<Sequence> scheduled_sequences(const Shape& shape) {
  std::vector<Sequence> seqs;
  for (size_t s = 0; s < kSchedule.size(); ++s) {
    int64_t length = 0;
    for (int64_t n : kSchedule[s]) length += n;
    seqs.push_back(random_sequence(shape, length, 100 + 10 * static_cast<uint32_t>(s)));
  }
  return seqs;
}

inline void check_shape(const Shape& shape, const std::vector<std::pair<std::string, Attend>>& implementations) {
  const std::vector<Sequence> seqs = scheduled_sequences(shape);
  const auto sinks = random_floats(static_cast<size_t>(shape.heads), 99);
  for (int window : {0, 16, 128}) {
    // References on the exact keys/values and on their bf16 roundings, per sequence.
    std::vector<std::vector<float>> exact, rounded;
    for (const auto& seq : seqs) {
      exact.push_back(reference(shape, seq.q, seq.k, seq.v, seq.length, sinks, window));
      rounded.push_back(reference(shape, seq.q, bf16_rounded(seq.k), bf16_rounded(seq.v), seq.length, sinks, window));
    }
    for (const auto& [name, attend] : implementations)
      for (int block_tokens : {16, 32})
        for (ElementType dtype : {ElementType::f32, ElementType::bf16}) {
          SCOPED_TRACE(shape.name() + ", " + name + ", window " + std::to_string(window) + ", blocks of " +
                       std::to_string(block_tokens) + ", " + element_type_name(dtype) + " cache");
          const auto out = run_paged({shape, dtype, block_tokens, window}, seqs, sinks, attend);
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

}  // namespace gptoss::test
