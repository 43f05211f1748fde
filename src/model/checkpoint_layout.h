// How a checkpoint layout stores the gpt-oss modules. The module tree (names of norms, biases,
// sinks, attention and router) is the same in every layout; layouts differ in how a Linear's
// weight is stored (dense, or MLX-quantized) and in how the experts are stacked.
#pragma once

#include <memory>
#include <string>

#include "model/checkpoint_reader.h"

namespace gptoss {

class CheckpointLayout {
 public:
  virtual ~CheckpointLayout() = default;
  virtual std::string description() const = 0;

  // The weight of module `path` (e.g. "model.layers.0.self_attn.q_proj") as [rows, cols].
  virtual Matrix linear(CheckpointReader& reader, const std::string& path, int64_t rows, int64_t cols) = 0;
  // The expert stacks and their biases under "<layer prefix>mlp.experts".
  virtual void experts(CheckpointReader& reader, const std::string& layer_prefix, const ModelConfig& config,
                       MoeWeights& out) = 0;
};

// Picks the layout from the tensors present (never from a flag); `config_json` is the text
// of config.json, whose "quantization" entry an MLX layout checks its tensors against.
std::unique_ptr<CheckpointLayout> detect_layout(const Checkpoint& checkpoint, const std::string& config_json,
                                                const std::string& config_origin);

// The whole model through `layout`.
ModelWeights read_gpt_oss_weights(CheckpointReader& reader, const ModelConfig& config, CheckpointLayout& layout);

}  // namespace gptoss
