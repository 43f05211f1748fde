// `gptoss convert`: a checkpoint gptoss can read (the original Hugging Face one with MXFP4
// experts, or an MLX one) → the MLX layout that mlx-lm loads (docs/FORMATS.md), optionally
// quantized with MLX affine quantization. Streams module by module: memory stays far below
// the model size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "quant/affine.h"

namespace gptoss {

struct ConvertOptions {
  bool quantize = false;            // -q
  int bits = 4;                     // --q-bits (mlx_lm's default)
  int group_size = 64;              // --q-group-size (mlx_lm's default)
  std::string dtype = "bfloat16";   // --dtype: bfloat16 | float16 | float32, for everything not quantized
  std::string quant_predicate;      // --quant-predicate (see quant_predicate.h)
  AffineRounding rounding = AffineRounding::gpu;  // the rules of the MLX kernels that wrote the published files
  uint64_t max_shard_bytes = 5ull << 30;
  int threads = 0;
  std::function<void(const std::string&)> note;                    // one message per line
  std::function<void(uint64_t written, uint64_t total)> progress;  // output bytes
};

struct ConvertSummary {
  int affine_modules = 0;
  int mxfp4_modules = 0;
  int unquantized_modules = 0;
  uint64_t bytes = 0;
  uint64_t parameters = 0;
};

// Writes `dst` (which must not exist; it appears only when complete). Throws gptoss::Error.
ConvertSummary convert_to_mlx(const std::filesystem::path& src, const std::filesystem::path& dst,
                              const ConvertOptions& options);

}  // namespace gptoss
