// The byte sizes a Matrix's formats take (quant/matrix.h), against the formats' definitions:
// MLX affine packs `bits` bits a weight LSB-first with one scale and one offset per group,
// MXFP4 two E2M1 codes a byte with one E8M0 scale byte per 32 weights, dense formats one
// element a weight. The CUDA upload and its row tiles copy exactly these ranges.
#include <gtest/gtest.h>

#include "kernels/weight_fixtures.h"
#include "quant/matrix.h"

namespace gptoss {
namespace {

TEST(MatrixBytes, RowsOfEveryFormatAtGptOssShapes) {
  // gpt-oss-20b's experts as MLX q5 gs32 (bf16 scales and offsets): 2880 × 5 / 8 bytes of codes,
  // 90 groups × 2 bytes of scales and as many of offsets.
  const test::OwnedMatrix q5 = test::affine(5, 32, ScaleType::bf16, 1, 2880, 2880, 1);
  EXPECT_EQ(packed_row_bytes(q5.m.format, q5.m.cols, q5.m.bits), 1800);
  EXPECT_EQ(scale_row_bytes(q5.m), 180);
  EXPECT_EQ(matrix_bytes(q5.m), 2880 * (1800 + 2 * 180));
  // The Hugging Face MXFP4 experts: 1440 bytes of codes, 90 E8M0 bytes, no offsets.
  const test::OwnedMatrix fp4 = test::mxfp4(1, 5760, 2880, 2);
  EXPECT_EQ(packed_row_bytes(fp4.m.format, fp4.m.cols, fp4.m.bits), 1440);
  EXPECT_EQ(scale_row_bytes(fp4.m), 90);
  EXPECT_EQ(matrix_bytes(fp4.m), 5760 * (1440 + 90));
  // f16 and f32 scales, groups of 64 and 128, 3- and 8-bit codes.
  const test::OwnedMatrix q3 = test::affine(3, 128, ScaleType::f32, 1, 7, 3072, 3);
  EXPECT_EQ(packed_row_bytes(q3.m.format, q3.m.cols, q3.m.bits), 1152);
  EXPECT_EQ(scale_row_bytes(q3.m), 24 * 4);
  EXPECT_EQ(matrix_bytes(q3.m), 7 * (1152 + 2 * 96));
  const test::OwnedMatrix q8 = test::affine(8, 64, ScaleType::f16, 1, 3, 4096, 4);
  EXPECT_EQ(packed_row_bytes(q8.m.format, q8.m.cols, q8.m.bits), 4096);
  EXPECT_EQ(scale_row_bytes(q8.m), 64 * 2);
  EXPECT_EQ(matrix_bytes(q8.m), 3 * (4096 + 2 * 128));
  // Dense rows have no scales.
  for (const auto& [format, element] : {std::pair{WeightFormat::f32, 4}, std::pair{WeightFormat::f16, 2},
                                        std::pair{WeightFormat::bf16, 2}}) {
    const test::OwnedMatrix dense = test::dense(format, 1, 5, 2880, 5);
    EXPECT_EQ(packed_row_bytes(format, 2880, 0), 2880 * element) << format_name(format);
    EXPECT_EQ(scale_row_bytes(dense.m), 0) << format_name(format);
    EXPECT_EQ(matrix_bytes(dense.m), 5 * 2880 * element) << format_name(format);
  }
}

}  // namespace
}  // namespace gptoss
