// The gpt-oss module tree, common to every checkpoint layout.
#include "gptoss/error.h"
#include "model/checkpoint_layout.h"
#include "model/hf_layout.h"
#include "model/mlx_layout.h"

namespace gptoss {

namespace {

AttentionWeights read_attention(CheckpointReader& r, CheckpointLayout& layout, const ModelConfig& c,
                                const std::string& p) {
  const int64_t h = c.hidden_size, q = c.query_width(), kv = c.kv_width();
  AttentionWeights a;
  a.norm = r.vector(p + "input_layernorm.weight", h);
  a.q = layout.linear(r, p + "self_attn.q_proj", q, h);
  a.q_bias = r.vector(p + "self_attn.q_proj.bias", q);
  a.k = layout.linear(r, p + "self_attn.k_proj", kv, h);
  a.k_bias = r.vector(p + "self_attn.k_proj.bias", kv);
  a.v = layout.linear(r, p + "self_attn.v_proj", kv, h);
  a.v_bias = r.vector(p + "self_attn.v_proj.bias", kv);
  a.o = layout.linear(r, p + "self_attn.o_proj", h, q);
  a.o_bias = r.vector(p + "self_attn.o_proj.bias", h);
  a.sinks = r.vector(p + "self_attn.sinks", c.num_attention_heads);
  return a;
}

MoeWeights read_moe(CheckpointReader& r, CheckpointLayout& layout, const ModelConfig& c, const std::string& p) {
  MoeWeights m;
  m.norm = r.vector(p + "post_attention_layernorm.weight", c.hidden_size);
  m.router = layout.linear(r, p + "mlp.router", c.num_experts, c.hidden_size);
  m.router_bias = r.vector(p + "mlp.router.bias", c.num_experts);
  layout.experts(r, p, c, m);
  return m;
}

// config.json and the tensors must agree on the number of layers before anything is sized by
// the config: a hostile num_hidden_layers should fail at once, naming the missing tensor.
void expect_layer_count(const CheckpointReader& r, const ModelConfig& c) {
  const std::string last = "model.layers." + std::to_string(c.num_layers - 1) + ".input_layernorm.weight";
  if (!r.contains(last))
    throw Error(r.checkpoint().directory().string() + ": config.json has num_hidden_layers = " +
                std::to_string(c.num_layers) + " but the checkpoint lacks tensor '" + last + "'");
}

}  // namespace

std::unique_ptr<CheckpointLayout> detect_layout(const Checkpoint& checkpoint, const std::string& config_json,
                                                const std::string& config_origin) {
  if (checkpoint.contains("model.layers.0.mlp.experts.gate_up_proj_blocks")) return std::make_unique<HfLayout>();
  if (checkpoint.contains("model.layers.0.mlp.experts.gate_proj.weight"))
    return std::make_unique<MlxLayout>(config_json, config_origin);
  if (checkpoint.contains("model.layers.0.mlp.experts.gate_up_proj"))
    throw Error(checkpoint.directory().string() +
                ": experts stored dense as 'gate_up_proj' [E, in, out] (a bf16 fine-tune) are not supported; "
                "use MXFP4 experts or convert to MLX first");
  throw Error(checkpoint.directory().string() +
              ": not a gpt-oss checkpoint gptoss knows (no 'model.layers.0.mlp.experts.gate_up_proj_blocks' "
              "nor 'model.layers.0.mlp.experts.gate_proj.weight')");
}

ModelWeights read_gpt_oss_weights(CheckpointReader& r, const ModelConfig& c, CheckpointLayout& layout) {
  expect_layer_count(r, c);
  ModelWeights w;
  w.layers.reserve(static_cast<size_t>(c.num_layers));
  w.embedding = layout.linear(r, "model.embed_tokens", c.vocab_size, c.hidden_size);
  for (int l = 0; l < c.num_layers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    LayerWeights layer;
    layer.kind = c.layer_types[static_cast<size_t>(l)];
    layer.attention = read_attention(r, layout, c, p);
    layer.moe = read_moe(r, layout, c, p);
    w.layers.push_back(layer);
  }
  w.final_norm = r.vector("model.norm.weight", c.hidden_size);
  w.lm_head = c.tie_word_embeddings && !r.contains("lm_head.weight")
                  ? w.embedding
                  : layout.linear(r, "lm_head", c.vocab_size, c.hidden_size);
  return w;
}

}  // namespace gptoss
