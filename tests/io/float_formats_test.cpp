// bf16/f16 conversions: exhaustive over every 16-bit pattern.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>

#include "io/dtype.h"
#include "quant/float_formats.h"

namespace gptoss {
namespace {

TEST(FloatFormats, Bf16RoundTripsEveryPattern) {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const float f = bf16_to_f32(static_cast<uint16_t>(bits));
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_bf16(f), bits);
  }
}

TEST(FloatFormats, F16RoundTripsEveryPattern) {
  for (uint32_t bits = 0; bits < 65536; ++bits) {
    const float f = f16_to_f32(static_cast<uint16_t>(bits));
    if (std::isnan(f)) continue;
    EXPECT_EQ(f32_to_f16(f), bits) << bits;
  }
}

TEST(FloatFormats, F16KnownValues) {
  EXPECT_EQ(f16_to_f32(0x3c00), 1.0f);
  EXPECT_EQ(f16_to_f32(0xc000), -2.0f);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.0f);
  EXPECT_TRUE(std::isinf(f16_to_f32(0x7c00)));
}

TEST(FloatFormats, RoundToNearestEven) {
  // Halfway between two bf16 values: ties go to the even mantissa.
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f808000u)), 0x3f80);
  EXPECT_EQ(f32_to_bf16(std::bit_cast<float>(0x3f818000u)), 0x3f82);
  EXPECT_EQ(f32_to_f16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie → even
  EXPECT_EQ(f32_to_f16(1.0f + 3 * std::ldexp(1.0f, -11)), 0x3c02);
  EXPECT_EQ(f32_to_f16(70000.f), 0x7c00);
  EXPECT_EQ(f32_to_f16(std::ldexp(1.0f, -25)), 0x0000);           // tie → even (0)
  EXPECT_EQ(f32_to_f16(std::ldexp(3.0f, -25)), 0x0002);           // tie → even (2)
}

TEST(DType, NamesAndSizesAgree) {
  for (const char* name : {"BOOL", "U8", "I8", "U16", "I16", "F16", "BF16", "U32", "I32", "F32", "U64", "I64", "F64",
                           "F8_E4M3", "F8_E5M2", "F8_E8M0", "C64"}) {
    const auto d = dtype_from_name(name);
    ASSERT_TRUE(d.has_value()) << name;
    EXPECT_EQ(dtype_name(*d), name);
  }
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(dtype_size(DType::I64), 8u);
  EXPECT_FALSE(dtype_from_name("bf16").has_value());
}

}  // namespace
}  // namespace gptoss
