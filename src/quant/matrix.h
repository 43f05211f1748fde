// Typed, non-owning views of weights as the kernels see them.
//
// A Matrix is `count` stacked [rows, cols] matrices (count = 1 for a Linear, E for an expert
// stack) with rows = output features and cols = input features, in one of these formats:
//   f32 / f16 / bf16  dense, one element per weight;
//   mxfp4             OCP MX FP4 (E2M1) codes, two per byte with the even element in the low
//                     nibble, one E8M0 scale byte (2^(s-127)) per 32 consecutive inputs;
//   affine            MLX affine: `bits`-wide codes q packed LSB-first into each row, and per
//                     `group_size` inputs a scale s and offset b: w = s·q + b.
// Rows may be strided (the even and odd rows of an interleaved gate/up stack are two views of
// one tensor). All pointers may be unaligned; they point into mapped files or device memory.
#pragma once

#include <cstdint>

namespace gptoss {

enum class WeightFormat : uint8_t { f32, f16, bf16, mxfp4, affine };
enum class ScaleType : uint8_t { none, e8m0, f32, f16, bf16 };

const char* format_name(WeightFormat format);

struct Matrix {
  WeightFormat format = WeightFormat::f32;
  int64_t count = 1;
  int64_t rows = 0;
  int64_t cols = 0;
  int bits = 0;        // affine only
  int group_size = 0;  // mxfp4: 32; affine: 32, 64 or 128
  ScaleType scale_type = ScaleType::none;

  const uint8_t* weight = nullptr;
  int64_t weight_row_stride = 0;     // bytes between consecutive rows
  int64_t weight_matrix_stride = 0;  // bytes between stacked matrices
  const uint8_t* scales = nullptr;
  const uint8_t* biases = nullptr;   // affine group offsets; laid out like scales
  int64_t scale_row_stride = 0;      // bytes, for scales and biases
  int64_t scale_matrix_stride = 0;

  const uint8_t* weight_row(int64_t matrix, int64_t row) const {
    return weight + matrix * weight_matrix_stride + row * weight_row_stride;
  }
  const uint8_t* scale_row(int64_t matrix, int64_t row) const {
    return scales + matrix * scale_matrix_stride + row * scale_row_stride;
  }
  const uint8_t* bias_row(int64_t matrix, int64_t row) const {
    return biases + matrix * scale_matrix_stride + row * scale_row_stride;
  }

  // The rows r0, r0 + step, r0 + 2·step, … (for de-interleaving gate/up rows without a copy).
  Matrix strided_rows(int64_t first_row, int64_t step) const;
};

// A float32 vector (norm weights, layer biases, sinks): small, converted once at load.
struct Vector {
  const float* data = nullptr;
  int64_t size = 0;
};

// A scale or bias value of an affine matrix (stored as f32, f16 or bf16).
float load_scale(ScaleType type, const uint8_t* base, int64_t index);

// Bytes of one packed row of `cols` weights in this format (codes only, no scales).
int64_t packed_row_bytes(WeightFormat format, int64_t cols, int bits);

// Bytes of one row's scales (and as many of its affine offsets); 0 for dense formats.
int64_t scale_row_bytes(const Matrix& m);

// Bytes one matrix of the stack occupies: its packed rows plus their scales and biases.
int64_t matrix_bytes(const Matrix& m);

// Reference decode of one row of matrix `matrix` into cols floats: exact for every format
// (affine: scale·q + bias in float32).
void dequantize_row(const Matrix& m, int64_t matrix, int64_t row, float* out);

}  // namespace gptoss
