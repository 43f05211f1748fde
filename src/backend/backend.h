// The operations the forward pass needs from a device. The forward pass (model/forward.cpp) is
// written once against this interface; each backend implements it with its own kernels.
//
// A Backend owns the device, the weights' device view and the kernels, and holds no per-call
// state: it is safe to use from many threads at once. Everything that belongs to one batch (its
// layout, scratch memory, the stream its work is queued on) lives in an ExecutionContext that the
// caller owns and uses from one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backend/batch_layout.h"
#include "backend/buffer.h"
#include "gptoss/sampler.h"
#include "backend/weights.h"

namespace gptoss {

// A [rows, cols] row-major matrix of activations in the backend's memory. The forward pass
// passes them around but never dereferences them.
struct Activations {
  void* data = nullptr;
  ElementType dtype = ElementType::f32;
  int64_t rows = 0;
  int64_t cols = 0;
  float* f32() const { return static_cast<float*>(data); }
  Activations first_rows(int64_t n) const { return {data, dtype, n, cols}; }
};

// One layer's paged KV cache as the kernels see it: `blocks` blocks of `block_tokens` positions,
// keys and values each stored [block, token in block, kv_width] in `dtype` (f32 or bf16). The
// blocks of a sequence are listed in the batch layout's block table of this layer's group.
struct KvLayerView {
  void* keys = nullptr;
  void* values = nullptr;
  ElementType dtype = ElementType::f32;
  int64_t blocks = 0;
  int block_tokens = 0;
  int64_t kv_width = 0;
  int group = 0;  // which of BatchLayout::Sequence::tables lists this layer's blocks
};

struct RopeParameters {
  std::vector<float> inv_freq;    // head_dim / 2 frequencies
  float attention_scaling = 1.f;  // multiplies both cos and sin (YaRN "mscale")
};

struct AttentionParameters {
  int heads = 0;
  int kv_heads = 0;
  int head_dim = 0;
  int window = 0;  // keys i−window < j ≤ i; 0 = full causal attention
  float scale = 0.f;
  Vector sinks;
};

struct MoeParameters {
  int experts = 0;
  int experts_per_token = 0;
  float swiglu_limit = 0.f;
  float swiglu_alpha = 0.f;
};

// One row of logits to choose a token from, with what the sampler needs besides the logits.
struct SampleRequest {
  const SamplerOptions* options = nullptr;
  int32_t vocab_size = 0;              // ids ≥ this are never chosen
  std::span<const int32_t> history;    // tokens before this one (the penalties read them)
  double uniform = 0;                  // the draw's quantile in [0, 1), from the request's generator
  bool logprobs = false;               // report the chosen token's log-probability
  int top_logprobs = 0;                // and the log-probabilities of this many most probable tokens
  std::span<const uint32_t> allowed;   // a bit per id (TokenConstraint); empty: every token
};

struct SampleResult {
  int32_t token = 0;
  float logprob = 0;  // of the chosen token under the model (temperature 1, before processors)
  std::vector<std::pair<int32_t, float>> top;  // the top_logprobs most probable tokens, best first
};

// A point in a stream's work: done once everything queued before it is.
class Event {
 public:
  virtual ~Event() = default;
  virtual bool done() = 0;
  virtual void synchronize() = 0;  // waits until done
  // Seconds from `earlier` (an event of the same stream, recorded before) to this one; both done.
  virtual double seconds_since(Event& earlier) = 0;
};

// Queued work on a device, in order. On the CPU every call completes before it returns.
class Stream {
 public:
  virtual ~Stream() = default;
  virtual void copy_to_host(const void* device, int64_t bytes, void* host) = 0;    // asynchronous
  virtual void copy_to_device(const void* host, int64_t bytes, void* device) = 0;  // asynchronous
  virtual void synchronize() = 0;  // waits for everything queued so far
  virtual std::unique_ptr<Event> record() = 0;  // an event after everything queued so far
};

// Per-caller state: the batch being run, scratch memory, the stream. Made by
// Backend::make_context, used by one thread at a time.
class ExecutionContext {
 public:
  virtual ~ExecutionContext() = default;
  // Makes the layout's indices available to the kernels; the ops below refer to it until the
  // next call. `layout` must stay alive and unchanged until then.
  virtual void begin_batch(const BatchLayout& layout) = 0;
  virtual Stream& stream() = 0;
  // Queues the ops that `queue` issues for the current batch. `shape` names everything the ops'
  // arguments depend on besides the batch's indices (buffers, cache, row counts): a context that
  // can record work (CUDA graphs) may record the ops the second time it sees a shape and replay
  // the recording, without calling `queue`, after that. The default just calls it.
  virtual void run_ops(uint64_t shape, const std::function<void()>& queue) {
    (void)shape;
    queue();
  }
};

class Backend : public DeviceMemory {
 public:
  virtual const char* name() const = 0;
  // The bandwidth a memory-bound forward pass is measured against, measured now (GB/s): the
  // host's read bandwidth over `threads` threads (util/read_bandwidth.h), or a GPU's device
  // copy, bytes read plus bytes written.
  virtual double measure_bandwidth_gbs(int threads) = 0;

  // Weights the backend's kernels read: the host views themselves, or device copies.
  virtual ModelWeights prepare_weights(const ModelWeights& host) = 0;
  virtual std::unique_ptr<ExecutionContext> make_context() = 0;

  virtual void embed(ExecutionContext& ctx, const Matrix& table, Activations out) = 0;
  // out = x / sqrt(mean(x²) + eps) · weight, per row
  virtual void rmsnorm(ExecutionContext& ctx, Activations x, Vector weight, float eps, Activations out) = 0;
  // y = x · Wᵀ + bias (bias may be empty)
  virtual void linear(ExecutionContext& ctx, Activations x, const Matrix& w, Vector bias, Activations y) = 0;
  // Rotates every head of every row by its position (NeoX half-split pairs).
  virtual void rope(ExecutionContext& ctx, Activations x, int heads, int head_dim, const RopeParameters& rope) = 0;
  // Stores the batch's keys and values into their blocks of `cache`, then computes each row's
  // attention over the keys of its sequence up to its own position (cached and new alike).
  virtual void attention(ExecutionContext& ctx, Activations q, Activations k, Activations v, const KvLayerView& cache,
                         const AttentionParameters& params, Activations out) = 0;
  // rope() of the queries and of the keys (in place), then attention(): composed by default;
  // one pass where a backend rotates the keys as it stores them.
  virtual void rope_attention(ExecutionContext& ctx, Activations q, Activations k, Activations v,
                              const RopeParameters& rope, const KvLayerView& cache, const AttentionParameters& params,
                              Activations out) {
    this->rope(ctx, q, params.heads, params.head_dim, rope);
    this->rope(ctx, k, params.kv_heads, params.head_dim, rope);
    this->attention(ctx, q, k, v, cache, params, out);
  }
  // out = Σ over the top-k experts of softmax(top-k router logits) · expert(x)
  virtual void moe(ExecutionContext& ctx, Activations x, const MoeWeights& weights, const MoeParameters& params,
                   Activations out) = 0;
  virtual void add(ExecutionContext& ctx, Activations x, Activations delta) = 0;  // x += delta
  // The residual stream's updates, x += linear(in) and x += moe(in): by default the op writes
  // `scratch` and add() folds it into x; a backend may fuse the sum into the op's last kernel
  // (the same one addition per element, so the same result).
  virtual void linear_residual(ExecutionContext& ctx, Activations in, const Matrix& w, Vector bias, Activations x,
                               Activations scratch) {
    linear(ctx, in, w, bias, scratch);
    add(ctx, x, scratch);
  }
  virtual void moe_residual(ExecutionContext& ctx, Activations in, const MoeWeights& weights,
                            const MoeParameters& params, Activations x, Activations scratch) {
    moe(ctx, in, weights, params, scratch);
    add(ctx, x, scratch);
  }
  // An RMSNorm and the ops that read it: normed = rmsnorm(x), then y = linear(normed) for each
  // of `products` (the attention's q, k and v), or x += moe(normed). `normed` is written either
  // way; a backend may normalize inside the ops' kernels, and run the products in one launch.
  struct Product {
    const Matrix* w;
    Vector bias;
    Activations y;
  };
  virtual void rmsnorm_linears(ExecutionContext& ctx, Activations x, Vector norm, float eps, Activations normed,
                               std::span<const Product> products) {
    rmsnorm(ctx, x, norm, eps, normed);
    for (const Product& p : products) linear(ctx, normed, *p.w, p.bias, p.y);
  }
  virtual void rmsnorm_moe_residual(ExecutionContext& ctx, Activations x, float eps, Activations normed,
                                    const MoeWeights& weights, const MoeParameters& params, Activations scratch) {
    rmsnorm(ctx, x, weights.norm, eps, normed);
    moe_residual(ctx, normed, weights, params, x, scratch);
  }
  // out[i] = x[layout.output_rows[i]]
  virtual void gather_output_rows(ExecutionContext& ctx, Activations x, Activations out) = 0;

  // Chooses one token per row of `logits` (row i for requests[i]); only the ids and the
  // requested log-probabilities come back to the host.
  virtual void sample(ExecutionContext& ctx, Activations logits, std::span<const SampleRequest> requests,
                      std::span<SampleResult> results) = 0;
  // Copies logits rows to host memory (for callers that want the whole rows).
  virtual void read_logits(ExecutionContext& ctx, Activations logits, float* host) = 0;
};

}  // namespace gptoss
