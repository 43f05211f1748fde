#include "model/forward.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "gptoss/error.h"
#include "model/rope.h"

namespace gptoss {

ForwardPass::ForwardPass(const ModelConfig& config, const ModelWeights& weights, Backend& backend, OpProfile* profile)
    : config_(config), weights_(weights), backend_(backend), profile_(profile), context_(backend.make_context()),
      rope_(rope_parameters(config)) {
  attention_.heads = config.num_attention_heads;
  attention_.kv_heads = config.num_key_value_heads;
  attention_.head_dim = config.head_dim;
  attention_.scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(config.head_dim)));
  moe_.experts = config.num_experts;
  moe_.experts_per_token = config.experts_per_token;
  moe_.swiglu_limit = static_cast<float>(config.swiglu_limit);
  moe_.swiglu_alpha = static_cast<float>(config.swiglu_alpha);
}

Activations ForwardPass::buffer(Buffer& storage, int64_t rows, int64_t cols, const char* what) {
  if (storage.elements() < rows * cols) storage = backend_.allocate(ElementType::f32, rows * cols, what);
  return Activations{storage.data(), ElementType::f32, rows, cols};
}

void ForwardPass::observe(HiddenStateObserver* observer, int index, Activations x) {
  if (observer == nullptr) return;
  host_scratch_.resize(static_cast<size_t>(x.rows * x.cols));
  context_->stream().copy_to_host(x.data, x.rows * x.cols * element_bytes(x.dtype), host_scratch_.data());
  context_->stream().synchronize();
  observer->on_hidden_state(index, x.rows, x.cols, host_scratch_.data());
}

template <class Op>
void ForwardPass::timed(const char* name, double weight_bytes, Op&& op) {
  if (profile_ == nullptr) return op();
  Stream& stream = context_->stream();
  auto start = stream.record();
  op();
  timings_.push_back({std::string(phase_) + name, weight_bytes, std::move(start), stream.record()});
}

void ForwardPass::record_timings() {
  if (timings_.empty()) return;
  context_->stream().synchronize();
  for (Timing& t : timings_) profile_->record(t.name, t.end->seconds_since(*t.start), t.weight_bytes);
  timings_.clear();
}

namespace {

// What a recorded run's arguments depend on besides the batch's indices: the buffers and cache
// (addresses) and the row counts (see ExecutionContext::run_ops).
uint64_t run_shape(const std::vector<uint64_t>& parts) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a over the parts
  for (uint64_t p : parts) h = (h ^ p) * 1099511628211ull;
  return h;
}

}  // namespace

Activations ForwardPass::run(const BatchLayout& layout, const KvLayers& kv, HiddenStateObserver* observer,
                             const StopCheck& should_stop) {
  ExecutionContext& ctx = *context_;
  const int64_t n = layout.rows(), hidden = config_.hidden_size;
  const auto eps = static_cast<float>(config_.rms_norm_eps);
  const Activations x = buffer(x_, n, hidden, "the residual stream");
  const Activations normed = buffer(normed_, n, hidden, "normalized activations");
  const Activations q = buffer(q_, n, config_.query_width(), "queries");
  const Activations k = buffer(k_, n, config_.kv_width(), "keys");
  const Activations v = buffer(v_, n, config_.kv_width(), "values");
  const Activations attended = buffer(attended_, n, config_.query_width(), "attention outputs");
  const Activations delta = buffer(delta_, n, hidden, "layer outputs");
  const auto outputs = static_cast<int64_t>(layout.output_rows.size());
  const Activations result = buffer(logits_, std::max<int64_t>(outputs, 1), config_.vocab_size, "logits");
  const Activations selected = buffer(outputs_, std::max<int64_t>(outputs, 1), hidden, "output rows").first_rows(outputs);

  ctx.begin_batch(layout);
  timings_.clear();  // (a pass that threw left its own)
  phase_ = n == static_cast<int64_t>(layout.sequences.size()) ? "decode/" : "prefill/";
  // Distinct experts a layer reads: k per row, at most all of them.
  const double experts_read = static_cast<double>(std::min<int64_t>(n * moe_.experts_per_token, moe_.experts));
  const auto queue = [&] {
    timed("embed", 0, [&] { backend_.embed(ctx, weights_.embedding, x); });
    observe(observer, 0, x);
    for (int l = 0; l < config_.num_layers; ++l) {
      if (should_stop && should_stop()) throw Interrupted();
      const LayerWeights& layer = weights_.layers[static_cast<size_t>(l)];
      const AttentionWeights& a = layer.attention;
      const MoeWeights& m = layer.moe;
      // x = x + o_proj(attention(rope(q_proj(norm(x))), rope(k_proj(…)), v_proj(…)))
      timed("attention.qkv", static_cast<double>(matrix_bytes(a.q) + matrix_bytes(a.k) + matrix_bytes(a.v)), [&] {
        const Backend::Product products[] = {{&a.q, a.q_bias, q}, {&a.k, a.k_bias, k}, {&a.v, a.v_bias, v}};
        backend_.rmsnorm_linears(ctx, x, a.norm, eps, normed, products);
      });
      AttentionParameters params = attention_;
      params.window = kv.window(l);
      params.sinks = a.sinks;
      timed("attention.sdpa", 0, [&] { backend_.rope_attention(ctx, q, k, v, rope_, kv.layer(l), params, attended); });
      timed("attention.o", static_cast<double>(matrix_bytes(a.o)),
            [&] { backend_.linear_residual(ctx, attended, a.o, a.o_bias, x, delta); });
      // x = x + moe(norm(x))
      const double expert_bytes = static_cast<double>(matrix_bytes(m.gate) + matrix_bytes(m.up) + matrix_bytes(m.down));
      timed("moe", static_cast<double>(matrix_bytes(m.router)) + experts_read * expert_bytes,
            [&] { backend_.rmsnorm_moe_residual(ctx, x, eps, normed, m, moe_, delta); });
      observe(observer, l + 1, x);
    }
    if (observer != nullptr) {
      backend_.rmsnorm(ctx, x, weights_.final_norm, eps, normed);
      observe(observer, config_.num_layers + 1, normed);
    }
    if (outputs == 0) return;
    timed("lm_head", static_cast<double>(matrix_bytes(weights_.lm_head)), [&] {
      backend_.gather_output_rows(ctx, x, selected);
      backend_.rmsnorm(ctx, selected, weights_.final_norm, eps, selected);
      backend_.linear(ctx, selected, weights_.lm_head, Vector{}, result.first_rows(outputs));
    });
  };
  // Observing and profiling read results between ops: those runs are never recorded.
  if (observer != nullptr || profile_ != nullptr) {
    queue();
    record_timings();
  } else {
    if (should_stop && should_stop()) throw Interrupted();
    const auto address = [](const void* p) { return static_cast<uint64_t>(reinterpret_cast<uintptr_t>(p)); };
    std::vector<uint64_t> shape = {static_cast<uint64_t>(n), static_cast<uint64_t>(outputs)};
    for (const Buffer* b : {&x_, &normed_, &q_, &k_, &v_, &attended_, &delta_, &outputs_, &logits_})
      shape.push_back(address(b->data()));
    // Every layer's cache view: a recording holds each layer's addresses and block count.
    for (int l = 0; l < config_.num_layers; ++l) {
      const KvLayerView view = kv.layer(l);
      shape.insert(shape.end(), {address(view.keys), address(view.values), static_cast<uint64_t>(view.blocks)});
    }
    ctx.run_ops(run_shape(shape), queue);
  }
  return result.first_rows(outputs);
}

}  // namespace gptoss
