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
// The clamped SwiGLU of gpt-oss on an expert's gate and up activations, for i < n:
//   g = min(gate_i, limit); u = clamp(up_i, −limit, limit)
//   out_i = (u + 1) · g · σ(alpha · g)
// swiglu below is the reference (std::exp); the SIMD sets use their exp (within 2 ulp).
using SwigluKernel = void (*)(const float* gate, const float* up, int64_t n, float limit, float alpha, float* out);
void swiglu(const float* gate, const float* up, int64_t n, float limit, float alpha, float* out);
// The bf16 product of long inputs (prefill): inputs and weights rounded to bf16 (to nearest
// even), every product exact in float32, the sums float32. Each kernel set lays the operands out
// its own way (vdpbf16ps wants weights interleaved by column pairs, AMX wants the inputs so), so
// a caller prepares them with the set's kernels and passes them through:
//   to_bf16(in, count, out):        out[i] = bf16(in[i]) for i < count.
//   prepare_inputs(x, n, k, out):   n rows of k floats in the set's input layout, which takes
//                                   bf16_inputs_size(n, k) elements; rows i0 … of a call made
//                                   for a multiple i0 of kBf16InputRows start at out + i0·k.
//   dequantize_bf16(w)(w, r0, r1, row_stride, tile_stride, out): rows [r0, r1) of w rounded
//                                   to bf16, column c of row r at out[(r − r0)·row_stride +
//                                   (c/32)·tile_stride + c%32]: row-major is (k, 32), 32-column
//                                   tiles of kBf16WeightRows rows (32, 32·kBf16WeightRows).
//                                   Null for formats without one (then dequantize to float32
//                                   and to_bf16).
//   pack_weights(rows, m, k, out):  m ≤ kBf16WeightRows row-major rows in the set's weight
//                                   layout (kBf16WeightRows · k elements); null where the
//                                   product reads the 32-column tiles (AMX: one contiguous
//                                   1 KiB tile per 16 rows and 32 columns).
//   bf16_products(inputs, n, weights, m, k, y, y_stride): y[i·y_stride + r] = Σ_c x[i, c]·w[r, c]
//                                   for i < n, r < m, k a multiple of 32. The weights have
//                                   kBf16WeightRows rows readable (what rows m … hold is not used).
inline constexpr int64_t kBf16WeightRows = 32;
inline constexpr int64_t kBf16InputRows = 16;
inline int64_t bf16_inputs_size(int64_t n, int64_t k) {
  return (n + kBf16InputRows - 1) / kBf16InputRows * kBf16InputRows * k;
}
using ToBf16Kernel = void (*)(const float* in, int64_t count, uint16_t* out);
using PrepareInputsBf16Kernel = void (*)(const float* x, int64_t n, int64_t k, uint16_t* out);
using DequantizeBf16RowsKernel = void (*)(const MatrixSlice& w, int64_t r0, int64_t r1, int64_t row_stride,
                                          int64_t tile_stride, uint16_t* out);
using PackWeightsBf16Kernel = void (*)(const uint16_t* rows, int64_t m, int64_t k, uint16_t* out);
using Bf16ProductsKernel = void (*)(const uint16_t* inputs, int64_t n, const uint16_t* weights, int64_t m, int64_t k,
                                    float* y, int64_t y_stride);
// Decode in bf16 (AVX512-BF16): x holds n ≤ kMaxFusedInputs rows of w.cols bf16 inputs and
// chunk_sums their float32 sums per 32 columns ([n, cols/32]); y as for FusedRowsKernel.
//   round_inputs: out[i] = bf16(in[i]), chunk_sums[c] = Σ of out[32c … 32c+31] (count a
//                 multiple of 32).
using FusedRowsBf16Kernel = void (*)(const MatrixSlice& w, const uint16_t* x, const float* chunk_sums, int n,
                                     float* y, int64_t y_stride, int64_t r0, int64_t r1);
using RoundInputsKernel = void (*)(const float* in, int64_t count, uint16_t* out, float* chunk_sums);

struct CpuKernels {
  const char* name;  // "amx", "avx512", "avx2" or "scalar"
  FusedRowsKernel (*fused)(const MatrixSlice& w);
  DequantizeRowsKernel (*dequantize)(const MatrixSlice& w);
  DotProductsKernel dot_products;
  WeightedSumKernel weighted_sum;
  DotProductsBf16Kernel dot_products_bf16;
  WeightedSumBf16Kernel weighted_sum_bf16;
  AttentionSoftmaxKernel attention_softmax;
  SwigluKernel swiglu;
  // Null where the CPU has no AVX512-BF16 (then prefill and decode are float32 only); the
  // "amx" set multiplies on AMX tiles. dequantize_bf16 and fused_bf16 return null for formats
  // they lack.
  ToBf16Kernel to_bf16 = nullptr;
  PrepareInputsBf16Kernel prepare_inputs = nullptr;
  DequantizeBf16RowsKernel (*dequantize_bf16)(const MatrixSlice& w) = nullptr;
  PackWeightsBf16Kernel pack_weights = nullptr;
  Bf16ProductsKernel bf16_products = nullptr;
  FusedRowsBf16Kernel (*fused_bf16)(const MatrixSlice& w) = nullptr;
  RoundInputsKernel round_inputs = nullptr;
};

const CpuKernels& scalar_kernels();
const CpuKernels* avx2_kernels();    // null when not compiled in or not supported by this CPU
const CpuKernels* avx512_kernels();  // needs AVX-512 F/BW/VL/VBMI; has the bf16 product with AVX512-BF16

// The AVX-512 set with the bf16 product on AMX tiles; null unless the CPU has AMX-BF16 and
// AVX512-BF16 and Linux grants the tile state (asked for on the first call).
const CpuKernels* amx_kernels();
// Fills the bf16 kernels where the CPU has AVX512-BF16 (kernels_avx512bf16.cpp).
void add_avx512bf16_products(CpuKernels& kernels);
// Pieces of the AVX512-BF16 set that other files use (the AMX set builds on them):
//   rows as bf16 words (kernels_avx512bf16_rows.cpp):
FusedRowsBf16Kernel avx512bf16_fused_rows(const MatrixSlice& w);
DequantizeBf16RowsKernel avx512bf16_dequantize_rows(const MatrixSlice& w);
void avx512bf16_round_inputs(const float* in, int64_t count, uint16_t* out, float* chunk_sums);
//   layouts (kernels_avx512bf16.cpp): out[p·pair_stride + 2r + j] = bf16(x[r·k + 2p + j]) for
//   p < k/2, r < 16 (rows count … 15 zero): 16 rows interleaved by column pairs.
void avx512bf16_interleave_pairs(const float* x, int64_t count, int64_t k, uint16_t* out, int64_t pair_stride);
//   y[t·y_stride + r] = sums[r·16 + t] for t < tokens, r < rows (≤ 16 each): a transposed copy.
void avx512bf16_store_transposed(const float* sums, int64_t tokens, int64_t rows, float* y, int64_t y_stride);

// The best set this CPU supports, or the one GPTOSS_CPU_KERNELS (scalar|avx2|avx512|amx) names.
const CpuKernels& best_cpu_kernels();

}  // namespace gptoss
