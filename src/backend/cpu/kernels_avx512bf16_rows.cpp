// Decode's streaming product in bf16 (AVX512-BF16): up to kMaxFusedInputs inputs rounded to
// bf16, multiplied with packed weight rows that are turned into bf16 words without a float32
// step. One vdpbf16ps does 32 multiply-adds where the float32 kernel spends, per 32 weights,
// two widenings, two conversions, two scale FMAs and two product FMAs: on Sapphire Rapids,
// whose 512-bit vector work shares two ports, the float32 kernel is bound by those instructions
// rather than by memory.
//
// Affine codes q (≤ 7 bits) become the bf16 number 128 + q exactly: the word 0x4300 | q
// (exponent 2^7, q in the 7 mantissa bits). Per group g with scale s_g and offset b_g,
//   Σ_c (s_g·q_c + b_g)·x_c = s_g·Σ_c (128 + q_c)·x_c + (b_g − 128·s_g)·Σ_c x_c,
// so a row needs one vdpbf16ps per 32 weights, one FMA per group, and a dot product of the
// per-group constants with the inputs' 32-column sums (prepared once for all rows); 8-bit codes
// take two words (Affine8Words), 384 + q in all.
// MXFP4 codes become their bf16 values by a 32-word table (every E2M1 value is exact in bf16).
// The same decoders dequantize rows straight to bf16 for prefill (no float32 copy in between).
// Compiled with the AVX-512 flags plus -mavx512bf16 (see CMakeLists.txt).
#include <immintrin.h>

#include <array>
#include <bit>
#include <type_traits>

#include "backend/cpu/kernels.h"

namespace gptoss {
namespace {

constexpr int64_t kMaxChunks = 1024;  // rows of up to 32768 inputs (the two pickers below check)
constexpr int64_t kPrefetchRows = 4;  // as the float32 kernel: more fetches in flight

__m512bh as_bf16(__m512i v) { return std::bit_cast<__m512bh>(v); }

// An MXFP4 block's scale 2^(e − 127) from its E8M0 byte (0 → 2^-127, 255 → NaN), as the float32 kernel.
float e8m0_scale(uint8_t e) {
  if (e == 0) return 5.877471754111438e-39f;
  if (e == 255) return __builtin_nanf("");
  return std::bit_cast<float>(static_cast<uint32_t>(e) << 23);
}

// The 32 weights of chunk c as kParts vectors of bf16 words whose sum is the weights (bf16,
// MXFP4) or kCodeOffset + q (affine, see the top).
template <int kParts>
struct Words {
  __m512bh part[kParts];
};

template <int BITS>
struct AffineWords {
  static constexpr bool kOffset = true;
  static constexpr float kCodeOffset = 128.f;  // words are 128 + q
  static constexpr int kParts = 1;
  // Word i of a chunk takes bytes ⌊i·BITS/8⌋ and the next, shifted right by i·BITS mod 8.
  static constexpr std::array<uint8_t, 64> kGather = [] {
    std::array<uint8_t, 64> g{};
    for (int i = 0; i < 32; ++i) {
      g[size_t(2 * i)] = static_cast<uint8_t>(i * BITS / 8);
      g[size_t(2 * i + 1)] = static_cast<uint8_t>(i * BITS / 8 + 1);
    }
    return g;
  }();
  static constexpr std::array<uint16_t, 32> kShift = [] {
    std::array<uint16_t, 32> s{};
    for (int i = 0; i < 32; ++i) s[size_t(i)] = static_cast<uint16_t>(i * BITS % 8);
    return s;
  }();
  const __m512i gather = _mm512_loadu_si512(kGather.data());
  const __m512i shift = _mm512_loadu_si512(kShift.data());
  const __m512i mask = _mm512_set1_epi16((1 << BITS) - 1);
  const __m512i exponent = _mm512_set1_epi16(0x4300);

  // The codes in the low BITS bits of each word, the bits above them not yet cleared.
  __m512i shifted(const uint8_t* row, int64_t c) const {
    const __m512i bytes = _mm512_maskz_loadu_epi8((1ull << (4 * BITS)) - 1, row + c * 4 * BITS);
    return _mm512_srlv_epi16(_mm512_permutexvar_epi8(gather, bytes), shift);
  }
  __m512i codes(const uint8_t* row, int64_t c) const { return _mm512_and_si512(shifted(row, c), mask); }
  Words<1> operator()(const uint8_t* row, int64_t c) const {
    return {as_bf16(_mm512_ternarylogic_epi32(shifted(row, c), mask, exponent, 0xea))};  // (words & mask) | exponent
  }
};

// 8-bit codes, where 128 + q is not exact in bf16: q = 2h + l with h ≤ 127, and the words
// 0x4380 | h (the bf16 number 256 + 2h: exponent 2^8, mantissa steps of 2) and 0x4300 | l
// (128 + l) are, summing to 384 + q — two vdpbf16ps per 32 weights.
struct Affine8Words {
  static constexpr bool kOffset = true;
  static constexpr float kCodeOffset = 384.f;
  static constexpr int kParts = 2;
  const __m512i high_exponent = _mm512_set1_epi16(0x4380);
  const __m512i low_exponent = _mm512_set1_epi16(0x4300);
  const __m512i one = _mm512_set1_epi16(1);

  Words<2> operator()(const uint8_t* row, int64_t c) const {
    const __m512i q = _mm512_cvtepu8_epi16(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + c * 32)));
    return {as_bf16(_mm512_or_si512(_mm512_srli_epi16(q, 1), high_exponent)),
            as_bf16(_mm512_ternarylogic_epi32(q, one, low_exponent, 0xea))};  // (q & 1) | 0x4300
  }
};

struct Mxfp4Words {
  static constexpr bool kOffset = false;
  static constexpr int kParts = 1;
  // Word i holds byte i/2 (the other byte zeroed), shifted right by 4 for odd i; vpermw reads
  // the low 5 bits, so the 16 E2M1 values are listed twice.
  static constexpr std::array<uint8_t, 64> kGather = [] {
    std::array<uint8_t, 64> g{};
    for (int i = 0; i < 32; ++i) g[size_t(2 * i)] = static_cast<uint8_t>(i / 2);
    return g;
  }();
  static constexpr std::array<uint16_t, 32> kShift = [] {
    std::array<uint16_t, 32> s{};
    for (int i = 0; i < 32; ++i) s[size_t(i)] = static_cast<uint16_t>(4 * (i % 2));
    return s;
  }();
  static constexpr std::array<uint16_t, 32> kValues = {  // 0, ±0.5, ±1, ±1.5, ±2, ±3, ±4, ±6 in bf16
      0x0000, 0x3f00, 0x3f80, 0x3fc0, 0x4000, 0x4040, 0x4080, 0x40c0, 0x8000, 0xbf00, 0xbf80,
      0xbfc0, 0xc000, 0xc040, 0xc080, 0xc0c0, 0x0000, 0x3f00, 0x3f80, 0x3fc0, 0x4000, 0x4040,
      0x4080, 0x40c0, 0x8000, 0xbf00, 0xbf80, 0xbfc0, 0xc000, 0xc040, 0xc080, 0xc0c0};
  const __m512i gather = _mm512_loadu_si512(kGather.data());
  const __m512i shift = _mm512_loadu_si512(kShift.data());
  const __m512i values = _mm512_loadu_si512(kValues.data());

  Words<1> operator()(const uint8_t* row, int64_t c) const {
    const __m512i bytes = _mm512_castsi128_si512(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + c * 16)));
    const __m512i codes = _mm512_srlv_epi16(_mm512_maskz_permutexvar_epi8(0x5555555555555555ull, gather, bytes), shift);
    return {as_bf16(_mm512_permutexvar_epi16(codes, values))};
  }
};

struct Bf16Words {
  static constexpr bool kOffset = false;
  static constexpr int kParts = 1;
  Words<1> operator()(const uint8_t* row, int64_t c) const { return {as_bf16(_mm512_loadu_si512(row + c * 64))}; }
};

// 16 scales (or offsets) of groups g … g+15 as float32, the lanes past `count` zero.
template <ScaleType S>
__m512 load_scales(const uint8_t* base, int64_t g, int64_t count) {
  const auto lanes = static_cast<__mmask16>(count >= 16 ? 0xffff : (1u << count) - 1);
  if constexpr (S == ScaleType::f32) return _mm512_maskz_loadu_ps(lanes, base + 4 * g);
  const __m256i halves = _mm256_maskz_loadu_epi16(lanes, base + 2 * g);
  if constexpr (S == ScaleType::f16) return _mm512_cvtph_ps(halves);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(halves), 16));
}

// Per row: the group scales as float32, and (affine) the per-chunk constant b_g − offset·s_g.
template <ScaleType S>
struct AffineScales {
  alignas(64) float scale[kMaxChunks + 16];   // per group (stored 16 at a time)
  alignas(64) float offset[kMaxChunks + 16];  // per 32-weight chunk, to meet the inputs' chunk sums

  void widen(const MatrixSlice& w, int64_t r, float code_offset) {
    const int64_t groups = w.cols / w.group_size, per_group = w.group_size / 32;
    const uint8_t* s = w.scales + r * w.scale_row_stride;
    const uint8_t* b = w.biases + r * w.scale_row_stride;
    for (int64_t g = 0; g < groups; g += 16) {
      const __m512 sv = load_scales<S>(s, g, groups - g), bv = load_scales<S>(b, g, groups - g);
      _mm512_store_ps(scale + g, sv);
      _mm512_store_ps(offset + g, _mm512_fnmadd_ps(sv, _mm512_set1_ps(code_offset), bv));
    }
    if (per_group == 1) return;
    for (int64_t c = w.cols / 32 - 1; c >= 0; --c) offset[c] = offset[c / per_group];  // high to low: in place
  }
};

// One group of G chunks (G = 0: w.group_size / 32, known at run time) starting at chunk c, for
// N inputs: the products summed in float32 (vdpbf16ps adds exact products), then scaled once
// into acc. bf16 weights have no scale: they accumulate straight into acc.
template <class W, int N, int G>
void group_step(const W& words, const uint8_t* row, const uint16_t* x, int64_t cols, int64_t c, int64_t per_group,
                float scale, __m512 acc[N]) {
  if constexpr (std::is_same_v<W, Bf16Words>) {
    const __m512bh wv = words(row, c).part[0];
    for (int i = 0; i < N; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], as_bf16(_mm512_loadu_si512(x + i * cols + c * 32)), wv);
    return;
  }
  __m512 sums[N];
  for (int i = 0; i < N; ++i) sums[i] = _mm512_setzero_ps();
  const int64_t end = c + (G > 0 ? G : per_group);
  for (; c < end; ++c) {
    const Words<W::kParts> wv = words(row, c);
    for (int i = 0; i < N; ++i) {
      const __m512bh xv = as_bf16(_mm512_loadu_si512(x + i * cols + c * 32));
      for (const __m512bh& part : wv.part) sums[i] = _mm512_dpbf16_ps(sums[i], xv, part);
    }
  }
  const __m512 sv = _mm512_set1_ps(scale);
  for (int i = 0; i < N; ++i) acc[i] = _mm512_fmadd_ps(sums[i], sv, acc[i]);
}

// Rows [r0, r1) for N inputs. Groups alternate between two sets of accumulators, so that two
// chains of FMAs are in flight (one 32-weight group per FMA at gs32 would otherwise wait on the
// previous one's latency).
template <class W, ScaleType S, int N, int G>
void rows_n(const MatrixSlice& w, const uint16_t* x, const float* chunk_sums, float* y, int64_t y_stride, int64_t r0,
            int64_t r1) {
  const W words;
  const int64_t chunks = w.cols / 32;
  const int64_t per_group = W::kOffset ? w.group_size / 32 : 1;
  const int64_t groups = chunks / per_group;
  AffineScales<S> scales;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* ahead = w.weight + (r + kPrefetchRows) * w.weight_row_stride;
    for (int64_t b = 0; b < w.row_bytes; b += 64) __builtin_prefetch(ahead + b);
    const uint8_t* row = w.weight + r * w.weight_row_stride;
    if constexpr (W::kOffset) scales.widen(w, r, W::kCodeOffset);
    // The group scales: affine's widened row, MXFP4's E8M0 bytes; bf16 weights have none.
    const uint8_t* e8m0 = std::is_same_v<W, Mxfp4Words> ? w.scales + r * w.scale_row_stride : nullptr;
    const auto scale = [&](int64_t g) { return W::kOffset ? scales.scale[g] : e8m0 != nullptr ? e8m0_scale(e8m0[g]) : 1.f; };
    __m512 acc[2][N];
    for (int h = 0; h < 2; ++h)
      for (int i = 0; i < N; ++i) acc[h][i] = _mm512_setzero_ps();
    int64_t g = 0;
    for (; g + 2 <= groups; g += 2) {
      group_step<W, N, G>(words, row, x, w.cols, g * per_group, per_group, scale(g), acc[0]);
      group_step<W, N, G>(words, row, x, w.cols, (g + 1) * per_group, per_group, scale(g + 1), acc[1]);
    }
    if (g < groups) group_step<W, N, G>(words, row, x, w.cols, g * per_group, per_group, scale(g), acc[0]);
    for (int i = 0; i < N; ++i) {
      __m512 total = _mm512_add_ps(acc[0][i], acc[1][i]);
      if constexpr (W::kOffset) {
        const float* xs = chunk_sums + i * chunks;
        for (int64_t c = 0; c < chunks; c += 16) {
          const auto lanes = static_cast<__mmask16>(chunks - c >= 16 ? 0xffff : (1u << (chunks - c)) - 1);
          total = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(lanes, scales.offset + c), _mm512_maskz_loadu_ps(lanes, xs + c), total);
        }
      }
      y[i * y_stride + r] = _mm512_reduce_add_ps(total);
    }
  }
}

template <class W, ScaleType S, int G>
void rows(const MatrixSlice& w, const uint16_t* x, const float* chunk_sums, int n, float* y, int64_t y_stride,
          int64_t r0, int64_t r1) {
  switch (n) {
    case 1: return rows_n<W, S, 1, G>(w, x, chunk_sums, y, y_stride, r0, r1);
    case 2: return rows_n<W, S, 2, G>(w, x, chunk_sums, y, y_stride, r0, r1);
    case 3: return rows_n<W, S, 3, G>(w, x, chunk_sums, y, y_stride, r0, r1);
    default: return rows_n<W, S, 4, G>(w, x, chunk_sums, y, y_stride, r0, r1);
  }
}

// Groups of one chunk (gs32, the common case) get an inner loop the compiler can drop.
template <class W, ScaleType S>
FusedRowsBf16Kernel affine_rows(int group_size) {
  if (group_size == 32) return rows<W, S, 1>;
  return rows<W, S, 0>;
}

template <class W>
FusedRowsBf16Kernel affine_rows(ScaleType s, int group_size) {
  if (s == ScaleType::bf16) return affine_rows<W, ScaleType::bf16>(group_size);
  if (s == ScaleType::f16) return affine_rows<W, ScaleType::f16>(group_size);
  return affine_rows<W, ScaleType::f32>(group_size);
}

// The 32 words of a chunk as two vectors of float32.
void widen_words(__m512i words, __m512 out[2], bool integers) {
  const __m512i low = _mm512_cvtepu16_epi32(_mm512_castsi512_si256(words));
  const __m512i high = _mm512_cvtepu16_epi32(_mm512_extracti64x4_epi64(words, 1));
  if (integers) {
    out[0] = _mm512_cvtepi32_ps(low);
    out[1] = _mm512_cvtepi32_ps(high);
  } else {  // bf16 bits
    out[0] = _mm512_castsi512_ps(_mm512_slli_epi32(low, 16));
    out[1] = _mm512_castsi512_ps(_mm512_slli_epi32(high, 16));
  }
}

void store_bf16(uint16_t* out, const __m512 v[2]) {
  _mm512_storeu_si512(out, std::bit_cast<__m512i>(_mm512_cvtne2ps_pbh(v[1], v[0])));
}

// Affine rows as bf16(s·q + b), the float32 value rounded once more (the float32 kernel's
// decoding, then rounding to nearest even).
template <int BITS, ScaleType S>
void dequantize_affine(const MatrixSlice& w, int64_t r0, int64_t r1, int64_t row_stride, int64_t tile_stride,
                       uint16_t* out) {
  const AffineWords<BITS> words;
  const int64_t chunks = w.cols / 32, per_group = w.group_size / 32;
  alignas(64) float scales[kMaxChunks + 16], biases[kMaxChunks + 16];
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.weight + r * w.weight_row_stride;
    const int64_t groups = chunks / per_group;
    for (int64_t g = 0; g < groups; g += 16) {
      _mm512_store_ps(scales + g, load_scales<S>(w.scales + r * w.scale_row_stride, g, groups - g));
      _mm512_store_ps(biases + g, load_scales<S>(w.biases + r * w.scale_row_stride, g, groups - g));
    }
    for (int64_t c = 0, g = 0; c < chunks; ++g) {
      const __m512 s = _mm512_set1_ps(scales[g]), b = _mm512_set1_ps(biases[g]);
      for (const int64_t end = c + per_group; c < end; ++c) {
        __m512 v[2];
        widen_words(words.codes(row, c), v, true);
        for (__m512& x : v) x = _mm512_fmadd_ps(x, s, b);
        store_bf16(out + (r - r0) * row_stride + c * tile_stride, v);
      }
    }
  }
}

// MXFP4 rows: each E2M1 value times 2^(e − 127), exact in float32, then rounded to bf16.
void dequantize_mxfp4(const MatrixSlice& w, int64_t r0, int64_t r1, int64_t row_stride, int64_t tile_stride,
                      uint16_t* out) {
  const Mxfp4Words words;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = w.weight + r * w.weight_row_stride;
    const uint8_t* e8m0 = w.scales + r * w.scale_row_stride;
    for (int64_t c = 0; c < w.cols / 32; ++c) {
      __m512 v[2];
      widen_words(std::bit_cast<__m512i>(words(row, c).part[0]), v, false);
      const __m512 s = _mm512_set1_ps(e8m0_scale(e8m0[c]));
      for (__m512& x : v) x = _mm512_mul_ps(x, s);
      store_bf16(out + (r - r0) * row_stride + c * tile_stride, v);
    }
  }
}

void copy_bf16_rows(const MatrixSlice& w, int64_t r0, int64_t r1, int64_t row_stride, int64_t tile_stride,
                    uint16_t* out) {
  for (int64_t r = r0; r < r1; ++r)
    for (int64_t c = 0; c < w.cols / 32; ++c)
      _mm512_storeu_si512(out + (r - r0) * row_stride + c * tile_stride, _mm512_loadu_si512(w.weight + r * w.weight_row_stride + 64 * c));
}

template <int BITS>
DequantizeBf16RowsKernel dequantize_affine_rows(ScaleType s) {
  if (s == ScaleType::bf16) return dequantize_affine<BITS, ScaleType::bf16>;
  if (s == ScaleType::f16) return dequantize_affine<BITS, ScaleType::f16>;
  return dequantize_affine<BITS, ScaleType::f32>;
}

}  // namespace

// The bf16 decode kernel for w's format, or null (f16/f32 weights stay with the float32 kernel).
FusedRowsBf16Kernel avx512bf16_fused_rows(const MatrixSlice& w) {
  if (w.cols / 32 > kMaxChunks) return nullptr;
  switch (w.format) {
    case WeightFormat::bf16: return rows<Bf16Words, ScaleType::none, 1>;
    case WeightFormat::mxfp4: return rows<Mxfp4Words, ScaleType::none, 1>;
    case WeightFormat::affine:
      switch (w.bits) {
        case 2: return affine_rows<AffineWords<2>>(w.scale_type, w.group_size);
        case 3: return affine_rows<AffineWords<3>>(w.scale_type, w.group_size);
        case 4: return affine_rows<AffineWords<4>>(w.scale_type, w.group_size);
        case 5: return affine_rows<AffineWords<5>>(w.scale_type, w.group_size);
        case 6: return affine_rows<AffineWords<6>>(w.scale_type, w.group_size);
        case 8: return affine_rows<Affine8Words>(w.scale_type, w.group_size);
        default: return nullptr;
      }
    default: return nullptr;
  }
}

DequantizeBf16RowsKernel avx512bf16_dequantize_rows(const MatrixSlice& w) {
  if (w.cols / 32 > kMaxChunks) return nullptr;
  switch (w.format) {
    case WeightFormat::bf16: return copy_bf16_rows;
    case WeightFormat::mxfp4: return dequantize_mxfp4;
    case WeightFormat::affine:
      switch (w.bits) {
        case 2: return dequantize_affine_rows<2>(w.scale_type);
        case 3: return dequantize_affine_rows<3>(w.scale_type);
        case 4: return dequantize_affine_rows<4>(w.scale_type);
        case 5: return dequantize_affine_rows<5>(w.scale_type);
        case 6: return dequantize_affine_rows<6>(w.scale_type);
        default: return nullptr;
      }
    default: return nullptr;
  }
}

// out = bf16(in) (round to nearest even), and sums[c] = the float32 sum of the rounded values
// of columns 32c … 32c+31; count a multiple of 32.
void avx512bf16_round_inputs(const float* in, int64_t count, uint16_t* out, float* sums) {
  for (int64_t i = 0; i < count; i += 32) {
    const __m512i v = std::bit_cast<__m512i>(_mm512_cvtne2ps_pbh(_mm512_loadu_ps(in + i + 16), _mm512_loadu_ps(in + i)));
    _mm512_storeu_si512(out + i, v);
    const __m512 low = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
    const __m512 high = _mm512_castsi512_ps(_mm512_and_si512(v, _mm512_set1_epi32(static_cast<int>(0xffff0000u))));
    sums[i / 32] = _mm512_reduce_add_ps(_mm512_add_ps(low, high));
  }
}

}  // namespace gptoss
