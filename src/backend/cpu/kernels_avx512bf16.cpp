// The bf16 prefill product for CPUs with AVX512-BF16 (Cooper Lake, Sapphire Rapids, Zen 4):
// vdpbf16ps multiplies 32 bf16 pairs per instruction, twice the float32 FMA's 16, and half the
// bytes per value keep twice as many inputs in cache.
// Compiled with the AVX-512 flags plus -mavx512bf16 (see CMakeLists.txt); nothing here runs
// unless add_avx512bf16_products finds the instruction set.
#include <cpuid.h>
#include <immintrin.h>

#include <bit>

#include "backend/cpu/kernels.h"

namespace gptoss {
namespace {

// CPUID leaf 7 sub-leaf 1, EAX bit 5 (clang 14's __builtin_cpu_supports does not know the name).
// The caller has checked AVX-512 F, so the OS saves the zmm state.
bool cpu_has_avx512bf16() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid_count(7, 1, &eax, &ebx, &ecx, &edx) != 0 && (eax & (1u << 5)) != 0;
}

// vcvtne2ps2bf16 rounds to nearest even (ignoring MXCSR, denormals flushed to zero); its first
// operand fills the upper 16 words, the second the lower.
void to_bf16(const float* in, int64_t count, uint16_t* out) {
  int64_t i = 0;
  for (; i + 32 <= count; i += 32) {
    const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(in + i + 16), _mm512_loadu_ps(in + i));
    _mm512_storeu_si512(out + i, std::bit_cast<__m512i>(v));
  }
  if (i == count) return;
  const int64_t left = count - i;  // 1 … 31
  const __mmask32 words = (1u << left) - 1;
  const auto low = static_cast<__mmask16>(words), high = static_cast<__mmask16>(words >> 16);
  const __m512bh v = _mm512_cvtne2ps_pbh(_mm512_maskz_loadu_ps(high, in + i + 16), _mm512_maskz_loadu_ps(low, in + i));
  _mm512_mask_storeu_epi16(out + i, words, std::bit_cast<__m512i>(v));
}

__m512bh load_bf16(const uint16_t* p) { return std::bit_cast<__m512bh>(_mm512_loadu_si512(p)); }

// The sums of four vectors, stored as four floats: within each 128-bit lane [a, b, c, d] partial
// sums, then the four lanes added.
void sum4(__m512 a, __m512 b, __m512 c, __m512 d, float* out) {
  const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
  const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
  const __m512 abcd = _mm512_add_ps(_mm512_shuffle_ps(ab, cd, 0x44), _mm512_shuffle_ps(ab, cd, 0xee));
  const __m256 half = _mm256_add_ps(_mm512_castps512_ps256(abcd), _mm512_extractf32x8_ps(abcd, 1));
  _mm_storeu_ps(out, _mm_add_ps(_mm256_castps256_ps128(half), _mm256_extractf128_ps(half, 1)));
}

// MI x rows times MR w rows: vdpbf16ps adds, to each float32 lane j, the two products of bf16
// pairs 2j and 2j+1 (each exact in float32), so every lane sums its own k/16 pairs.
template <int MI, int MR>
void block(const uint16_t* x, int64_t x_stride, const uint16_t* w, int64_t w_stride, int64_t k, float* y,
           int64_t y_stride) {
  __m512 acc[MI][MR];
  for (int i = 0; i < MI; ++i)
    for (int r = 0; r < MR; ++r) acc[i][r] = _mm512_setzero_ps();
  for (int64_t c = 0; c < k; c += 32) {
    __m512bh xv[MI];
    for (int i = 0; i < MI; ++i) xv[i] = load_bf16(x + i * x_stride + c);
    for (int r = 0; r < MR; ++r) {
      const __m512bh wv = load_bf16(w + r * w_stride + c);
      for (int i = 0; i < MI; ++i) acc[i][r] = _mm512_dpbf16_ps(acc[i][r], xv[i], wv);
    }
  }
  for (int i = 0; i < MI; ++i) {
    if constexpr (MR == 4) {
      sum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3], y + i * y_stride);
    } else {
      for (int r = 0; r < MR; ++r) y[i * y_stride + r] = _mm512_reduce_add_ps(acc[i][r]);
    }
  }
}

// 4 × 4 blocks: 16 accumulators hide vdpbf16ps's latency, and 8 loads feed 16 of them.
void bf16_products(const uint16_t* x, int64_t n, int64_t x_stride, const uint16_t* w, int64_t m, int64_t w_stride,
                   int64_t k, float* y, int64_t y_stride) {
  constexpr int MI = 4, MR = 4;
  int64_t i = 0;
  for (; i + MI <= n; i += MI) {
    int64_t r = 0;
    for (; r + MR <= m; r += MR)
      block<MI, MR>(x + i * x_stride, x_stride, w + r * w_stride, w_stride, k, y + i * y_stride + r, y_stride);
    for (; r < m; ++r) block<MI, 1>(x + i * x_stride, x_stride, w + r * w_stride, w_stride, k, y + i * y_stride + r, y_stride);
  }
  for (; i < n; ++i) {
    int64_t r = 0;
    for (; r + MR <= m; r += MR)
      block<1, MR>(x + i * x_stride, x_stride, w + r * w_stride, w_stride, k, y + i * y_stride + r, y_stride);
    for (; r < m; ++r) block<1, 1>(x + i * x_stride, x_stride, w + r * w_stride, w_stride, k, y + i * y_stride + r, y_stride);
  }
}

}  // namespace

void add_avx512bf16_products(CpuKernels& kernels) {
  if (!cpu_has_avx512bf16()) return;
  kernels.to_bf16 = to_bf16;
  kernels.bf16_products = bf16_products;
}

}  // namespace gptoss
