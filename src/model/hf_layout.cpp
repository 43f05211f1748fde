#include "model/hf_layout.h"

namespace gptoss {

bool is_hf_layout(const Checkpoint& checkpoint) {
  return checkpoint.contains("model.layers.0.mlp.experts.gate_up_proj_blocks");
}

namespace {

AttentionWeights read_attention(CheckpointReader& r, const ModelConfig& c, const std::string& p) {
  const int64_t h = c.hidden_size, q = c.query_width(), kv = c.kv_width();
  AttentionWeights a;
  a.norm = r.vector(p + "input_layernorm.weight", h);
  a.q = r.dense_matrix(p + "self_attn.q_proj.weight", q, h);
  a.q_bias = r.vector(p + "self_attn.q_proj.bias", q);
  a.k = r.dense_matrix(p + "self_attn.k_proj.weight", kv, h);
  a.k_bias = r.vector(p + "self_attn.k_proj.bias", kv);
  a.v = r.dense_matrix(p + "self_attn.v_proj.weight", kv, h);
  a.v_bias = r.vector(p + "self_attn.v_proj.bias", kv);
  a.o = r.dense_matrix(p + "self_attn.o_proj.weight", h, q);
  a.o_bias = r.vector(p + "self_attn.o_proj.bias", h);
  a.sinks = r.vector(p + "self_attn.sinks", c.num_attention_heads);
  return a;
}

MoeWeights read_moe(CheckpointReader& r, const ModelConfig& c, const std::string& p) {
  const int64_t h = c.hidden_size, e = c.num_experts, i = c.intermediate_size;
  MoeWeights m;
  m.norm = r.vector(p + "post_attention_layernorm.weight", h);
  m.router = r.dense_matrix(p + "mlp.router.weight", e, h);
  m.router_bias = r.vector(p + "mlp.router.bias", e);
  const Matrix gate_up = r.mxfp4_stack(p + "mlp.experts.gate_up_proj", e, 2 * i, h);
  m.gate = gate_up.strided_rows(0, 2);  // even rows: gate
  m.up = gate_up.strided_rows(1, 2);    // odd rows: up
  m.gate_bias = r.strided_vector(p + "mlp.experts.gate_up_proj_bias", e, i, 0, 2);
  m.up_bias = r.strided_vector(p + "mlp.experts.gate_up_proj_bias", e, i, 1, 2);
  m.down = r.mxfp4_stack(p + "mlp.experts.down_proj", e, h, i);
  m.down_bias = r.strided_vector(p + "mlp.experts.down_proj_bias", e, h, 0, 1);
  return m;
}

}  // namespace

ModelWeights read_hf_weights(CheckpointReader& r, const ModelConfig& c) {
  ModelWeights w;
  w.embedding = r.dense_matrix("model.embed_tokens.weight", c.vocab_size, c.hidden_size);
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LayerWeights layer;
    layer.kind = c.layer_types[static_cast<size_t>(l)];
    layer.attention = read_attention(r, c, p);
    layer.moe = read_moe(r, c, p);
    w.layers.push_back(layer);
  }
  w.final_norm = r.vector("model.norm.weight", c.hidden_size);
  w.lm_head = c.tie_word_embeddings && !r.contains("lm_head.weight")
                  ? w.embedding
                  : r.dense_matrix("lm_head.weight", c.vocab_size, c.hidden_size);
  return w;
}

}  // namespace gptoss
