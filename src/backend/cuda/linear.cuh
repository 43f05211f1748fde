// Products of activations with weights in any Matrix format, read in place from their packed
// form (never a dequantized copy): one kernel for a few input rows (decode: a warp per weight
// row streams its bytes once, for up to 8 inputs at a time) and one tiled kernel for many
// (prefill: dequantized into shared memory tiles, multiplied on the tensor cores in bf16 or
// on the CUDA cores in float32).
//
// Both take a grouped problem, which is also the mixture of experts' shape: "items" (output
// rows) are sorted by the matrix of the stack they use, and each gathers its input row.
#pragma once

#include <cuda_runtime.h>

#include <cstdint>
#include <span>

#include "quant/matrix.h"

namespace gptoss::cuda {

enum class Precision { f32, bf16 };

//   y[i·y_stride + r] = Σ_c x[x_row(i)·x_stride + c] · W_{m(i)}[r, c] + bias[m(i)·w.rows + r]
// for items i < items and weight rows r < w.rows, where the items [offsets[m], offsets[m+1])
// use matrix m (offsets null: every item uses matrix 0) and x_row(i) = x_rows[i] (null: i).
// The launch covers `matrices` matrices: matrix_list[g] for g < matrices (null: g itself), an
// entry < 0 being skipped, so that a mixture of experts launches for the experts its tokens
// chose (the device writes the list) rather than for all of them.
// All pointers are device memory; x is 16-byte aligned with x_stride a multiple of 4, and
// w.cols a multiple of 32.
struct LinearProblem {
  Matrix w;
  const float* x = nullptr;
  int64_t x_stride = 0;
  const int32_t* x_rows = nullptr;
  const int32_t* offsets = nullptr;      // w.count + 1 entries
  const int32_t* matrix_list = nullptr;  // `matrices` entries
  int matrices = 1;
  int items = 0;
  int max_items_per_matrix = 0;      // a bound the host knows (≤ items); sizes the launch
  const float* bias = nullptr;       // [w.count × w.rows], or null
  float* y = nullptr;
  int64_t y_stride = 0;
  bool accumulate = false;  // y += the product (a residual update) instead of y =
  // Streaming only: x's rows are RMS-normalized first (x · inv_rms · weight, as rmsnorm()), and
  // also written to `normed` ([x rows × w.cols], x_stride = w.cols) when it is not null.
  struct {
    const float* weight = nullptr;
    float eps = 0.f;
    float* normed = nullptr;
  } norm;
};

// Chooses the kernel by the host-known sizes: the streaming one while every matrix has at most
// kStreamingMaxItems items, else the tiled one (in `precision`). Asynchronous on `stream`.
inline constexpr int kStreamingMaxItems = 32;
void linear(const LinearProblem& p, Precision precision, cudaStream_t stream);

// The streaming products have two kernels: `registers` takes any problem, each lane loading a
// few chunks ahead into registers; `row_tiles` (linear_row_tiles.cu) copies tiles of whole rows
// into shared memory, several in flight, for one or two items per matrix of packed weights
// (MXFP4, affine) whose rows the copy engine can take (16-byte aligned tiles) on sm_90 or later.
// `best` takes row tiles for affine weights where can_stream_row_tiles says they apply
// (GPTOSS_CUDA_ROW_TILES_KB=0: never) — for MXFP4 they measured slower (H200, Hugging Face
// decode 263 → 232 tok/s: the E2M1 table lookups saturate the shared-memory pipe); asking for row
// tiles where they do not apply throws.
enum class StreamingKernel { best, registers, row_tiles };
// `up`: of the gated product (linear_swiglu), or null.
bool can_stream_row_tiles(std::span<const LinearProblem> problems, const Matrix* up = nullptr);

// The kernels, for tests and benchmarks that pick one.
void linear_streaming(const LinearProblem& p, cudaStream_t stream, StreamingKernel kernel = StreamingKernel::best);

// Dense products of the same inputs in one streaming launch (the attention's q, k and v): at
// most kMaxSharedInputProducts of them, of one weight format and width, with the same inputs
// (at most kStreamingMaxItems rows). can_stream_together says whether they qualify. A norm
// (LinearProblem::norm) is applied by each product and written to `normed` by the first.
inline constexpr int kMaxSharedInputProducts = 3;
bool can_stream_together(std::span<const LinearProblem> problems);
void linear_streaming(std::span<const LinearProblem> problems, cudaStream_t stream,
                      StreamingKernel kernel = StreamingKernel::best);

// The experts' gate, up and SwiGLU in one streaming pass: y = clamped SwiGLU of (x·Wᵀ + bias)
// and (x·Upᵀ + up_bias) (up_bias [w.count × w.rows] or null), the problem's w being the gate.
// can_gate says whether the streaming kernel takes the pair: as many items as linear() streams,
// and up of gate's shape and format.
bool can_gate(const LinearProblem& p, const Matrix& up);
void linear_swiglu(const LinearProblem& p, const Matrix& up, const float* up_bias, float limit, float alpha,
                   cudaStream_t stream, StreamingKernel kernel = StreamingKernel::best);
void linear_tiled(const LinearProblem& p, Precision precision, cudaStream_t stream);

}  // namespace gptoss::cuda
