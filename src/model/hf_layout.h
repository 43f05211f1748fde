// The original Hugging Face gpt-oss layout (openai/gpt-oss-20b): dense (bf16) Linears, experts
// as MXFP4 `*_blocks`/`*_scales` [E, out, in/32, 16] whose gate_up rows interleave gate (even)
// and up (odd). See docs/FORMATS.md.
#pragma once

#include "model/checkpoint_layout.h"

namespace gptoss {

class HfLayout final : public CheckpointLayout {
 public:
  std::string description() const override { return "Hugging Face (dense + MXFP4 experts)"; }
  Matrix linear(CheckpointReader& reader, const std::string& path, int64_t rows, int64_t cols) override;
  void experts(CheckpointReader& reader, const std::string& layer_prefix, const ModelConfig& config,
               MoeWeights& out) override;
};

}  // namespace gptoss
