// The layout `mlx_lm convert` writes for gpt-oss: every quantized module as `X.weight` (U32,
// packed) + `X.scales` (+ `X.biases` for affine), layer biases as `X.bias`, and the experts as
// separate stacks `mlp.experts.{gate,up,down}_proj` [E, out, in]. Which modules are quantized,
// and how, is read from the tensors and checked against config.json's "quantization".
#pragma once

#include <map>
#include <optional>

#include "model/checkpoint_layout.h"

namespace gptoss {

// One entry of config.json "quantization": the global one or a per-module override.
struct MlxQuantSpec {
  bool quantized = true;  // false: the module is listed as not quantized
  int bits = 0;
  int group_size = 0;
  std::string mode = "affine";
};

class MlxLayout final : public CheckpointLayout {
 public:
  MlxLayout(const std::string& config_json, const std::string& config_origin);

  std::string description() const override { return "MLX (mlx_lm convert)"; }
  Matrix linear(CheckpointReader& reader, const std::string& path, int64_t rows, int64_t cols) override;
  void experts(CheckpointReader& reader, const std::string& layer_prefix, const ModelConfig& config,
               MoeWeights& out) override;

 private:
  Matrix module(CheckpointReader& reader, const std::string& path, int64_t count, int64_t rows, int64_t cols);

  std::string origin_;
  std::optional<MlxQuantSpec> global_;              // absent: config.json has no "quantization"
  std::map<std::string, MlxQuantSpec> per_module_;  // keyed by module path
};

}  // namespace gptoss
