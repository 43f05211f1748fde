// The byte sizes a Matrix's formats take (quant/matrix.h), against the formats' definitions:
// MLX affine packs `bits` bits a weight LSB-first with one scale and one offset per group,
// MXFP4 two E2M1 codes a byte with one E8M0 scale byte per 32 weights, dense formats one
// element a weight. The CUDA upload and its row tiles copy exactly these ranges.
#include <gtest/gtest.h>

#include "quant/matrix.h"

namespace gptoss {
namespace {

Matrix shaped(WeightFormat format, int64_t rows, int64_t cols, int bits, int group, ScaleType scales, bool biases) {
  static const uint8_t byte = 0;  // a non-null table; the sizes never read it
  Matrix m;
  m.format = format;
  m.rows = rows;
  m.cols = cols;
  m.bits = bits;
  m.group_size = group;
  m.scale_type = scales;
  m.weight = &byte;
  m.scales = scales == ScaleType::none ? nullptr : &byte;
  m.biases = biases ? &byte : nullptr;
  return m;
}

TEST(MatrixBytes, RowsOfEveryFormatAtGptOssShapes) {
  // gpt-oss-20b's experts as MLX q5 gs32 (bf16 scales and offsets): 2880 × 5 / 8 bytes of codes,
  // 90 groups × 2 bytes of scales and as many of offsets.
  const Matrix q5 = shaped(WeightFormat::affine, 2880, 2880, 5, 32, ScaleType::bf16, true);
  EXPECT_EQ(packed_row_bytes(q5.format, q5.cols, q5.bits), 1800);
  EXPECT_EQ(scale_row_bytes(q5), 180);
  EXPECT_EQ(matrix_bytes(q5), 2880 * (1800 + 2 * 180));
  // The Hugging Face MXFP4 experts: 1440 bytes of codes, 90 E8M0 bytes, no offsets.
  const Matrix fp4 = shaped(WeightFormat::mxfp4, 5760, 2880, 0, 32, ScaleType::e8m0, false);
  EXPECT_EQ(packed_row_bytes(fp4.format, fp4.cols, fp4.bits), 1440);
  EXPECT_EQ(scale_row_bytes(fp4), 90);
  EXPECT_EQ(matrix_bytes(fp4), 5760 * (1440 + 90));
  // f16 and f32 scales, groups of 64 and 128, 3- and 8-bit codes.
  const Matrix q3 = shaped(WeightFormat::affine, 7, 3072, 3, 128, ScaleType::f32, true);
  EXPECT_EQ(packed_row_bytes(q3.format, q3.cols, q3.bits), 1152);
  EXPECT_EQ(scale_row_bytes(q3), 24 * 4);
  EXPECT_EQ(matrix_bytes(q3), 7 * (1152 + 2 * 96));
  const Matrix q8 = shaped(WeightFormat::affine, 3, 4096, 8, 64, ScaleType::f16, true);
  EXPECT_EQ(packed_row_bytes(q8.format, q8.cols, q8.bits), 4096);
  EXPECT_EQ(scale_row_bytes(q8), 64 * 2);
  EXPECT_EQ(matrix_bytes(q8), 3 * (4096 + 2 * 128));
  // Dense rows have no scales.
  for (const auto& [format, element] : {std::pair{WeightFormat::f32, 4}, std::pair{WeightFormat::f16, 2},
                                        std::pair{WeightFormat::bf16, 2}}) {
    const Matrix dense = shaped(format, 5, 2880, 0, 0, ScaleType::none, false);
    EXPECT_EQ(packed_row_bytes(format, 2880, 0), 2880 * element) << format_name(format);
    EXPECT_EQ(scale_row_bytes(dense), 0) << format_name(format);
    EXPECT_EQ(matrix_bytes(dense), 5 * 2880 * element) << format_name(format);
  }
}

}  // namespace
}  // namespace gptoss
