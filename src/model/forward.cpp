#include "model/forward.h"

#include <cmath>

#include "model/rope.h"

namespace gptoss {

ForwardPass::ForwardPass(const ModelConfig& config, const ModelWeights& weights, Backend& backend)
    : config_(config), weights_(weights), backend_(backend), rope_(rope_parameters(config)) {
  attention_.heads = config.num_attention_heads;
  attention_.kv_heads = config.num_key_value_heads;
  attention_.head_dim = config.head_dim;
  attention_.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(config.head_dim)));
  moe_.experts = config.num_experts;
  moe_.experts_per_token = config.experts_per_token;
  moe_.swiglu_limit = static_cast<float>(config.swiglu_limit);
  moe_.swiglu_alpha = static_cast<float>(config.swiglu_alpha);
}

Activations ForwardPass::buffer(DeviceBuffer& storage, int64_t rows, int64_t cols) {
  if (storage.size() < rows * cols) storage = backend_.allocate(rows * cols);
  return Activations{storage.data(), rows, cols};
}

void ForwardPass::observe(HiddenStateObserver* observer, int index, Activations x) {
  if (observer == nullptr) return;
  host_scratch_.resize(static_cast<size_t>(x.rows * x.cols));
  backend_.copy_to_host(x.data, x.rows * x.cols, host_scratch_.data());
  observer->on_hidden_state(index, x.rows, x.cols, host_scratch_.data());
}

void ForwardPass::run(const BatchLayout& layout, KvCache& cache, float* logits, HiddenStateObserver* observer) {
  const int64_t n = layout.rows(), hidden = config_.hidden_size;
  const auto eps = static_cast<float>(config_.rms_norm_eps);
  const Activations x = buffer(x_, n, hidden);
  const Activations normed = buffer(normed_, n, hidden);
  const Activations q = buffer(q_, n, config_.query_width());
  const Activations k = buffer(k_, n, config_.kv_width());
  const Activations v = buffer(v_, n, config_.kv_width());
  const Activations attended = buffer(attended_, n, config_.query_width());
  const Activations delta = buffer(delta_, n, hidden);

  backend_.begin_batch(layout);
  backend_.embed(weights_.embedding, x);
  observe(observer, 0, x);
  for (int l = 0; l < config_.num_layers; ++l) {
    const LayerWeights& layer = weights_.layers[static_cast<size_t>(l)];
    const AttentionWeights& a = layer.attention;
    // x = x + o_proj(attention(rope(q_proj(norm(x))), rope(k_proj(…)), v_proj(…)))
    backend_.rmsnorm(x, a.norm, eps, normed);
    backend_.linear(normed, a.q, a.q_bias, q);
    backend_.linear(normed, a.k, a.k_bias, k);
    backend_.linear(normed, a.v, a.v_bias, v);
    backend_.rope(q, config_.num_attention_heads, config_.head_dim, rope_);
    backend_.rope(k, config_.num_key_value_heads, config_.head_dim, rope_);
    AttentionParameters params = attention_;
    params.window = cache.window(l);
    params.sinks = a.sinks;
    backend_.attention(q, k, v, cache.layer(l), params, attended);
    backend_.linear(attended, a.o, a.o_bias, delta);
    backend_.add(x, delta);
    // x = x + moe(norm(x))
    backend_.rmsnorm(x, layer.moe.norm, eps, normed);
    backend_.moe(normed, layer.moe, moe_, delta);
    backend_.add(x, delta);
    observe(observer, l + 1, x);
  }
  if (observer != nullptr) {
    backend_.rmsnorm(x, weights_.final_norm, eps, normed);
    observe(observer, config_.num_layers + 1, normed);
  }

  const auto outputs = static_cast<int64_t>(layout.output_rows.size());
  if (outputs == 0) return;
  const Activations selected = buffer(outputs_, outputs, hidden);
  const Activations result = buffer(logits_, outputs, config_.vocab_size);
  backend_.gather_output_rows(x, selected);
  backend_.rmsnorm(selected, weights_.final_norm, eps, selected);
  backend_.linear(selected, weights_.lm_head, Vector{}, result);
  backend_.copy_to_host(result.data, outputs * config_.vocab_size, logits);
}

}  // namespace gptoss
