// `gptoss synth`: a random-weight gpt-oss checkpoint with the real shapes, so that speed and
// memory can be measured without the real weights. The weights are random but well-formed:
// bf16 values of the usual spread, MXFP4 codes with plausible scales, MLX affine codes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

namespace gptoss {

struct SynthOptions {
  std::string config = "20b";  // 20b | 120b | tiny | a config.json path
  int layers = 0;              // > 0: keep only the first `layers` layers
  uint64_t seed = 0;
  // 0: the original Hugging Face layout (bf16 + MXFP4 experts). Otherwise an MLX checkpoint
  // with every Linear affine-quantized at bits/group_size (what the published
  // gpt-oss-20b-MLX-{4,5,6,8}bit repositories hold), made by converting the former.
  int bits = 0;
  int group_size = 32;
  int threads = 0;
  std::function<void(const std::string& stage, uint64_t done, uint64_t total)> progress;
};

// The config.json text of a built-in configuration, with `layers` applied.
std::string synthetic_config_json(const std::string& config, int layers);

// Writes `out` (which must not exist; it appears only when complete). Throws gptoss::Error.
void synthesize_checkpoint(const std::filesystem::path& out, const SynthOptions& options);

}  // namespace gptoss
