// The original Hugging Face gpt-oss layout (openai/gpt-oss-20b): bf16 tensors, experts as
// MXFP4 `*_blocks`/`*_scales` [E, out, in/32, 16] whose gate_up rows interleave gate (even)
// and up (odd), as in ../docs/FORMATS.md.
#pragma once

#include "model/checkpoint_reader.h"

namespace gptoss {

bool is_hf_layout(const Checkpoint& checkpoint);
ModelWeights read_hf_weights(CheckpointReader& reader, const ModelConfig& config);

}  // namespace gptoss
