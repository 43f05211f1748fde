// The kernel set for AVX-512 (F, BW, VL, VBMI): 16-lane float vectors; packed codes of any
// width are spread into bytes with one byte permutation and one multishift per 32 weights.
// Compiled with -mavx512f -mavx512bw -mavx512vl -mavx512vbmi -mfma -mf16c (see CMakeLists.txt).
#include <immintrin.h>

#include "backend/cpu/kernels_simd.h"

namespace gptoss {
namespace {

struct Avx512 {
  using V = __m512;
  static constexpr int W = 16;
  static constexpr int kBlockInputs = 4;
  static constexpr int kBlockRows = 4;
  static constexpr int kWeightedHeads = 8;

  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static float sum(V v) { return _mm512_reduce_add_ps(v); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V min(V a, V b) { return _mm512_min_ps(a, b); }
  static V div(V a, V b) { return _mm512_div_ps(a, b); }
  static float reduce_max(V v) { return _mm512_reduce_max_ps(v); }
  // Cephes' expf: e^x = 2^n · e^r, n = round(x / ln 2), |r| ≤ ln 2 / 2, e^r by a degree-7 polynomial.
  static V exp(V x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.33654f)), _mm512_set1_ps(88.37626f));
    const V n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    V r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    V p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.f)));
    return _mm512_scalef_ps(p, n);
  }
  static void sum4(V a, V b, V c, V d, float* out) {
    // Within each 128-bit lane: [a, b, c, d] partial sums; then the four lanes added.
    const V ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    const V cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    const V abcd = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, 0x44), _mm512_shuffle_ps(ab, cd, 0xee));
    const __m256 half = _mm256_add_ps(_mm512_castps512_ps256(abcd), _mm512_extractf32x8_ps(abcd, 1));
    _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(half), _mm256_extractf128_ps(half, 1)));
  }
  static float f16_scale(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return _cvtsh_ss(h);
  }

  static V widen_bf16(const uint8_t* p) {  // 16 bf16 values
    const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
  }
  static void bf16(const uint8_t* p, V* out) {
    for (int j = 0; j < 2; ++j) {
      const __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * j)));
      out[j] = _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
    }
  }
  static void f16(const uint8_t* p, V* out) {
    for (int j = 0; j < 2; ++j) out[j] = _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 32 * j)));
  }
  static void f32(const uint8_t* p, V* out) {
    for (int j = 0; j < 2; ++j) out[j] = _mm512_loadu_ps(reinterpret_cast<const float*>(p) + 16 * j);
  }

  static void mxfp4(const uint8_t* p, float scale, V* out) {
    const __m512 lut = _mm512_setr_ps(0.f, .5f, 1.f, 1.5f, 2.f, 3.f, 4.f, 6.f, -0.f, -.5f, -1.f, -1.5f, -2.f, -3.f, -4.f, -6.f);
    const __m128i bytes = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    const __m128i nibble = _mm_set1_epi8(0x0f);
    const __m128i low = _mm_and_si128(bytes, nibble), high = _mm_and_si128(_mm_srli_epi16(bytes, 4), nibble);
    const __m128i codes[2] = {_mm_unpacklo_epi8(low, high), _mm_unpackhi_epi8(low, high)};  // element order
    const __m512 s = _mm512_set1_ps(scale);
    for (int j = 0; j < 2; ++j) out[j] = _mm512_mul_ps(_mm512_permutexvar_ps(_mm512_cvtepu8_epi32(codes[j]), lut), s);
  }

  // 32 codes of BITS bits (4·BITS bytes): pack k (8 codes, BITS bytes) goes to 64-bit lane k by
  // a byte permutation, then multishift extracts the 8 bits at offsets 0, BITS, …, 7·BITS.
  template <int BITS>
  static void affine(const uint8_t* p, float scale, float bias, V* out) {
    constexpr __mmask32 kLoad = BITS == 8 ? 0xffffffffu : (1u << (4 * BITS)) - 1;
    const __m256i bytes = _mm256_maskz_loadu_epi8(kLoad, p);
    alignas(32) static constexpr uint8_t kGather[32] = {
#define GPTOSS_LANE(k) k * BITS + 0, k * BITS + 1, k * BITS + 2, k * BITS + 3, k * BITS + 4, k * BITS + 5, k * BITS + 6, k * BITS + 7
        GPTOSS_LANE(0), GPTOSS_LANE(1), GPTOSS_LANE(2), GPTOSS_LANE(3)};
#undef GPTOSS_LANE
    alignas(32) static constexpr uint8_t kShift[32] = {
#define GPTOSS_SHIFTS 0 * BITS, 1 * BITS, 2 * BITS, 3 * BITS, 4 * BITS, 5 * BITS, 6 * BITS, 7 * BITS
        GPTOSS_SHIFTS, GPTOSS_SHIFTS, GPTOSS_SHIFTS, GPTOSS_SHIFTS};
#undef GPTOSS_SHIFTS
    const __m256i packs = _mm256_permutexvar_epi8(_mm256_load_si256(reinterpret_cast<const __m256i*>(kGather)), bytes);
    const __m256i shifted = _mm256_multishift_epi64_epi8(_mm256_load_si256(reinterpret_cast<const __m256i*>(kShift)), packs);
    const __m256i codes = _mm256_and_si256(shifted, _mm256_set1_epi8(static_cast<char>((1 << BITS) - 1)));
    const __m512 s = _mm512_set1_ps(scale), b = _mm512_set1_ps(bias);
    out[0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_castsi256_si128(codes))), s, b);
    out[1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(_mm256_extracti128_si256(codes, 1))), s, b);
  }
};

}  // namespace

const CpuKernels* avx512_kernels() {
  __builtin_cpu_init();
  const bool supported = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                         __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vbmi") &&
                         __builtin_cpu_supports("fma");
  if (!supported || !cpu_has_f16c()) return nullptr;
  static const CpuKernels kernels = [] {
    CpuKernels k = Kernels<Avx512>::table("avx512");
    add_avx512bf16_products(k);
    return k;
  }();
  return &kernels;
}

}  // namespace gptoss
