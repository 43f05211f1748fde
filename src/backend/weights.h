// The gpt-oss weights as typed views, as the backends' kernels take them, independent of the
// checkpoint layout they came from (model/ builds them from the files).
#pragma once

#include <memory>
#include <vector>

#include "gptoss/config.h"
#include "gptoss/model.h"
#include "quant/matrix.h"

namespace gptoss {

struct AttentionWeights {
  Vector norm;  // input_layernorm
  Matrix q, k, v, o;
  Vector q_bias, k_bias, v_bias, o_bias;
  Vector sinks;  // one logit per query head
};

// Expert e: y = down_e · (swiglu(gate_e·x + gate_bias_e, up_e·x + up_bias_e)) + down_bias_e.
struct MoeWeights {
  Vector norm;  // post_attention_layernorm
  Matrix router;
  Vector router_bias;
  Matrix gate, up, down;                 // count = experts
  Vector gate_bias, up_bias, down_bias;  // [experts × rows]
};

struct LayerWeights {
  AttentionKind kind = AttentionKind::full;
  AttentionWeights attention;
  MoeWeights moe;
};

struct ModelWeights {
  Matrix embedding;  // [vocab, hidden]
  std::vector<LayerWeights> layers;
  Vector final_norm;
  Matrix lm_head;  // [vocab, hidden]
};

// Owns the float32 copies of the small vectors (norms, biases, sinks).
class VectorStore {
 public:
  Vector add(std::vector<float> values);

 private:
  std::vector<std::unique_ptr<std::vector<float>>> storage_;
};

}  // namespace gptoss
