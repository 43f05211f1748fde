#include "model/hf_layout.h"

namespace gptoss {

Matrix HfLayout::linear(CheckpointReader& r, const std::string& path, int64_t rows, int64_t cols) {
  return r.dense_matrix(path + ".weight", rows, cols);
}

void HfLayout::experts(CheckpointReader& r, const std::string& p, const ModelConfig& c, MoeWeights& m) {
  const int64_t h = c.hidden_size, e = c.num_experts, i = c.intermediate_size;
  const Matrix gate_up = r.mxfp4_stack(p + "mlp.experts.gate_up_proj", e, 2 * i, h);
  m.gate = gate_up.strided_rows(0, 2);  // even rows: gate
  m.up = gate_up.strided_rows(1, 2);    // odd rows: up
  m.gate_bias = r.strided_vector(p + "mlp.experts.gate_up_proj_bias", e, i, 0, 2);
  m.up_bias = r.strided_vector(p + "mlp.experts.gate_up_proj_bias", e, i, 1, 2);
  m.down = r.mxfp4_stack(p + "mlp.experts.down_proj", e, h, i);
  m.down_bias = r.strided_vector(p + "mlp.experts.down_proj_bias", e, h, 0, 1);
}

}  // namespace gptoss
