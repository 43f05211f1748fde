// The kernel set for AVX2 + FMA + F16C: 8-lane float vectors; packed codes are extracted with
// 64-bit variable shifts, MXFP4 codes through an 8-entry magnitude table plus the sign bit.
// Compiled with -mavx2 -mfma -mf16c (see CMakeLists.txt).
#include <immintrin.h>

#include "backend/cpu/kernels_simd.h"

namespace gptoss {
namespace {

struct Avx2 {
  using V = __m256;
  static constexpr int W = 8;
  static constexpr int kBlockInputs = 2;  // 2 × 4 accumulators + 6 operands fit 16 registers
  static constexpr int kBlockRows = 4;
  static constexpr int kWeightedHeads = 2;

  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static float sum(V v) {
    const __m128 half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 pair = _mm_add_ps(half, _mm_movehl_ps(half, half));
    return _mm_cvtss_f32(_mm_add_ss(pair, _mm_movehdup_ps(pair)));
  }
  static void sum4(V a, V b, V c, V d, float* out) {
    const V ab = _mm256_add_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
    const V cd = _mm256_add_ps(_mm256_unpacklo_ps(c, d), _mm256_unpackhi_ps(c, d));
    const V abcd = _mm256_add_ps(_mm256_shuffle_ps(ab, cd, 0x44), _mm256_shuffle_ps(ab, cd, 0xee));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1)));
  }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V max(V a, V b) { return _mm256_max_ps(a, b); }
  static V min(V a, V b) { return _mm256_min_ps(a, b); }
  static V div(V a, V b) { return _mm256_div_ps(a, b); }
  static float reduce_max(V v) {
    const __m128 half = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 pair = _mm_max_ps(half, _mm_movehl_ps(half, half));
    return _mm_cvtss_f32(_mm_max_ss(pair, _mm_movehdup_ps(pair)));
  }
  // Cephes' expf: e^x = 2^n · e^r, n = round(x / ln 2), |r| ≤ ln 2 / 2, e^r by a degree-7
  // polynomial; x ≥ −87.3 keeps 2^n a normal float.
  static V exp(V x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.33654f)), _mm256_set1_ps(88.37626f));
    const V n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    V r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    V p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.f)));
    const __m256i pow2n = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(pow2n));
  }
  static float f16_scale(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return _cvtsh_ss(h);
  }

  static V widen_bf16(const uint8_t* p) {  // 8 bf16 values
    const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
  }
  static void bf16(const uint8_t* p, V* out) {
    for (int j = 0; j < 4; ++j) {
      const __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * j)));
      out[j] = _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
    }
  }
  static void f16(const uint8_t* p, V* out) {
    for (int j = 0; j < 4; ++j) out[j] = _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * j)));
  }
  static void f32(const uint8_t* p, V* out) {
    for (int j = 0; j < 4; ++j) out[j] = _mm256_loadu_ps(reinterpret_cast<const float*>(p) + 8 * j);
  }

  static void mxfp4(const uint8_t* p, float scale, V* out) {
    const __m256 magnitudes = _mm256_setr_ps(0.f, .5f, 1.f, 1.5f, 2.f, 3.f, 4.f, 6.f);
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i nibble = _mm_set1_epi8(0x0f);
    const __m128i low = _mm_and_si128(bytes, nibble), high = _mm_and_si128(_mm_srli_epi16(bytes, 4), nibble);
    const __m128i codes[2] = {_mm_unpacklo_epi8(low, high), _mm_unpackhi_epi8(low, high)};
    const __m256 s = _mm256_set1_ps(scale);
    for (int j = 0; j < 4; ++j) {
      const __m128i eight = j % 2 == 0 ? codes[j / 2] : _mm_srli_si128(codes[j / 2], 8);
      const __m256i code = _mm256_cvtepu8_epi32(eight);
      const __m256 magnitude = _mm256_permutevar8x32_ps(magnitudes, code);  // uses the low 3 bits
      const __m256 sign = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_and_si256(code, _mm256_set1_epi32(8)), 28));
      out[j] = _mm256_mul_ps(_mm256_xor_ps(magnitude, sign), s);
    }
  }

  // 32 codes of BITS bits: each pack of 8 codes (BITS bytes) is read as a 64-bit word and
  // shifted right by 0, BITS, …, 7·BITS in four 64-bit lanes at a time.
  template <int BITS>
  static void affine(const uint8_t* p, float scale, float bias, V* out) {
    uint8_t bytes[4 * BITS + 8] = {};
    std::memcpy(bytes, p, 4 * BITS);
    const __m256i low_shifts = _mm256_setr_epi64x(0, BITS, 2 * BITS, 3 * BITS);
    const __m256i high_shifts = _mm256_setr_epi64x(4 * BITS, 5 * BITS, 6 * BITS, 7 * BITS);
    const __m256i even_dwords = _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7);
    const __m256i mask = _mm256_set1_epi32((1 << BITS) - 1);
    const __m256 s = _mm256_set1_ps(scale), b = _mm256_set1_ps(bias);
    for (int k = 0; k < 4; ++k) {
      uint64_t pack;
      std::memcpy(&pack, bytes + k * BITS, 8);
      const __m256i word = _mm256_set1_epi64x(static_cast<long long>(pack));
      const __m256i low = _mm256_permutevar8x32_epi32(_mm256_srlv_epi64(word, low_shifts), even_dwords);
      const __m256i high = _mm256_permutevar8x32_epi32(_mm256_srlv_epi64(word, high_shifts), even_dwords);
      const __m256i codes = _mm256_and_si256(_mm256_permute2x128_si256(low, high, 0x20), mask);
      out[k] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(codes), s, b);
    }
  }
};

}  // namespace

const CpuKernels* avx2_kernels() {
  __builtin_cpu_init();
  const bool supported = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return supported && cpu_has_f16c() ? &Kernels<Avx2>::table("avx2") : nullptr;
}

}  // namespace gptoss
