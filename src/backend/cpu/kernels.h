// The CPU matrix kernels, one set per instruction set, chosen at run time.
//
// Every format is decoded in chunks of 32 weights (all group sizes are multiples of 32), so
// each set provides, per format, one kernel that streams packed weight rows once and
// multiplies them with up to kMaxFusedInputs input rows (decode), and one that dequantizes rows
// to float32 for the blocked float32 product used for longer inputs (prefill).
#pragma once

#include <cstdint>

#include "quant/matrix.h"

namespace gptoss {

inline constexpr int kMaxFusedInputs = 4;

// One matrix of a stack, as plain pointers and strides (kernels see no Matrix methods).
struct MatrixSlice {
  WeightFormat format = WeightFormat::f32;
  ScaleType scale_type = ScaleType::none;
  int bits = 0;
  int group_size = 0;
  int64_t cols = 0;
  const uint8_t* weight = nullptr;  // row 0 of this matrix
  int64_t weight_row_stride = 0;
  int64_t row_bytes = 0;            // packed bytes of one row (≤ the stride of strided views)
  const uint8_t* scales = nullptr;
  const uint8_t* biases = nullptr;
  int64_t scale_row_stride = 0;
};

MatrixSlice slice(const Matrix& m, int64_t matrix);

// y[i·y_stride + r] = Σ_k x[i·cols + k] · w[r, k] for i < n ≤ kMaxFusedInputs, r in [r0, r1).
using FusedRowsKernel = void (*)(const MatrixSlice& w, const float* x, int n, float* y, int64_t y_stride,
                                 int64_t r0, int64_t r1);
// out[(r − r0)·cols + k] = w[r, k] for r in [r0, r1).
using DequantizeRowsKernel = void (*)(const MatrixSlice& w, int64_t r0, int64_t r1, float* out);
// y[i·y_stride + r] = Σ_c x[i·x_stride + c] · w[r·w_stride + c] over c < k, for i < n, r < m
// (float32 both; k a multiple of 32).
using DotProductsKernel = void (*)(const float* x, int64_t n, int64_t x_stride, const float* w, int64_t m,
                                   int64_t w_stride, int64_t k, float* y, int64_t y_stride);
// out[h·out_stride + c] += Σ_j p[h·p_stride + j] · v[j·v_stride + c] for h < n, j < m, c < d
// (d a multiple of 32): attention's probability-weighted sum of values.
using WeightedSumKernel = void (*)(const float* p, int64_t n, int64_t p_stride, const float* v, int64_t m,
                                   int64_t v_stride, int64_t d, float* out, int64_t out_stride);
// The same two over bfloat16 keys / values (w and v hold raw bf16 bits; strides count elements),
// for a bf16 KV cache: each key or value is widened once for all n query heads.
using DotProductsBf16Kernel = void (*)(const float* x, int64_t n, int64_t x_stride, const uint16_t* w, int64_t m,
                                       int64_t w_stride, int64_t k, float* y, int64_t y_stride);
using WeightedSumBf16Kernel = void (*)(const float* p, int64_t n, int64_t p_stride, const uint16_t* v, int64_t m,
                                       int64_t v_stride, int64_t d, float* out, int64_t out_stride);
// Attention's softmax numerators with a sink, in place, for h < n rows of m scores s_j =
// s[h·s_stride + j]: with M = max(sinks[h], max_j scale·s_j),
//   s_j ← exp(scale·s_j − M),  z[h] = exp(sinks[h] − M) + Σ_j s_j
// (the probabilities are s_j / z[h]).
using AttentionSoftmaxKernel = void (*)(float* s, int64_t n, int64_t s_stride, int64_t m, float scale,
                                        const float* sinks, float* z);
// The bf16 prefill product (AVX512-BF16). Inputs are rounded to bf16 (to nearest even):
//   to_bf16:    out[i] = bf16(in[i]) for i < count.
// Weight rows go in blocks of kBf16PackRows, rounded and interleaved by pairs of columns
// (vdpbf16ps's operand layout: one vector holds one column pair of 16 rows):
//   pack_bf16:  packed[(p·32 + r)·2 + j] = bf16(rows[r·k + 2p + j]) for r < m ≤ 32, p < k/2
//               (rows m … 31 zero).
//   bf16_products: y[i·y_stride + r] = Σ_c x[i·x_stride + c] · w[r, c] over c < k, for i < n and
//               r < m, with x bf16 and w packed (k a multiple of 32): every product is exact in
//               float32, the sums are float32. x must have round_up(n, kBf16InputRows) readable
//               rows (AMX loads inputs 16 rows at a time; what the extra rows hold is not used).
inline constexpr int64_t kBf16PackRows = 32;
inline constexpr int64_t kBf16InputRows = 16;
using ToBf16Kernel = void (*)(const float* in, int64_t count, uint16_t* out);
using PackBf16Kernel = void (*)(const float* rows, int64_t m, int64_t k, uint16_t* packed);
using Bf16ProductsKernel = void (*)(const uint16_t* x, int64_t n, int64_t x_stride, const uint16_t* packed, int64_t m,
                                    int64_t k, float* y, int64_t y_stride);

struct CpuKernels {
  const char* name;  // "amx", "avx512", "avx2" or "scalar"
  FusedRowsKernel (*fused)(const MatrixSlice& w);
  DequantizeRowsKernel (*dequantize)(const MatrixSlice& w);
  DotProductsKernel dot_products;
  WeightedSumKernel weighted_sum;
  DotProductsBf16Kernel dot_products_bf16;
  WeightedSumBf16Kernel weighted_sum_bf16;
  AttentionSoftmaxKernel attention_softmax;
  // Null where the CPU has no AVX512-BF16 (then prefill is float32 only); bf16_products uses AMX
  // tiles in the "amx" set.
  ToBf16Kernel to_bf16 = nullptr;
  PackBf16Kernel pack_bf16 = nullptr;
  Bf16ProductsKernel bf16_products = nullptr;
};

const CpuKernels& scalar_kernels();
const CpuKernels* avx2_kernels();    // null when not compiled in or not supported by this CPU
const CpuKernels* avx512_kernels();  // needs AVX-512 F/BW/VL/VBMI; has the bf16 product with AVX512-BF16

// The AVX-512 set with the bf16 product on AMX tiles; null unless the CPU has AMX-BF16 and
// AVX512-BF16 and Linux grants the tile state (asked for on the first call).
const CpuKernels* amx_kernels();
// Fills the bf16 product's kernels (to_bf16, pack_bf16, bf16_products) where the CPU has AVX512-BF16.
void add_avx512bf16_products(CpuKernels& kernels);

// The best set this CPU supports, or the one GPTOSS_CPU_KERNELS (scalar|avx2|avx512|amx) names.
const CpuKernels& best_cpu_kernels();

}  // namespace gptoss
