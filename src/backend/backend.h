// The operations the forward pass needs from a device. The forward pass (model/forward.cpp) is
// written once against this interface; each backend implements it with its own kernels.
// Activations are float32 row-major matrices in the backend's memory; the forward pass passes
// them around but never dereferences them.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "model/weights.h"

namespace gptoss {

struct Activations {
  float* data = nullptr;
  int64_t rows = 0;
  int64_t cols = 0;
  Activations first_rows(int64_t n) const { return {data, n, cols}; }
};

// Backend memory for `size` floats, released by the backend that made it.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(float* data, int64_t size, std::function<void(float*)> release)
      : data_(data, std::move(release)), size_(size) {}
  float* data() const { return data_.get(); }
  int64_t size() const { return size_; }

 private:
  std::unique_ptr<float, std::function<void(float*)>> data_{nullptr, [](float*) {}};
  int64_t size_ = 0;
};

// Which rows of a batch belong to which sequence. Row r of every activation holds token
// tokens[r] at absolute position positions[r]; a sequence's rows are contiguous.
struct BatchLayout {
  struct Sequence {
    int slot = 0;                // KV-cache slot
    int32_t start_position = 0;  // position of its first row = tokens already cached
    int64_t first_row = 0;
    int64_t rows = 0;
  };
  std::vector<Sequence> sequences;
  std::vector<int32_t> tokens;
  std::vector<int32_t> positions;
  std::vector<int64_t> output_rows;  // rows whose logits are computed, in output order

  int64_t rows() const { return static_cast<int64_t>(tokens.size()); }
};

// One layer's cache: keys and values of `slots` sequences, `capacity` positions each, stored as
// [slot, position % capacity, kv_width]. A sliding layer keeps capacity = window (a ring); a
// full layer keeps the whole context.
struct KvLayer {
  float* keys = nullptr;
  float* values = nullptr;
  int64_t capacity = 0;
  int64_t slots = 0;
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

class Backend {
 public:
  virtual ~Backend() = default;
  virtual const char* name() const = 0;

  // Weights the backend's kernels read: the host views themselves, or device copies.
  virtual ModelWeights prepare_weights(const ModelWeights& host) = 0;
  virtual DeviceBuffer allocate(int64_t floats) = 0;
  virtual void copy_to_host(const float* device, int64_t floats, float* host) = 0;
  virtual void copy_on_device(const float* from, int64_t floats, float* to) = 0;

  // Makes the layout's indices available to the kernels; the ops below refer to it.
  virtual void begin_batch(const BatchLayout& layout) = 0;

  virtual void embed(const Matrix& table, Activations out) = 0;
  // out = x / sqrt(mean(x²) + eps) · weight, per row
  virtual void rmsnorm(Activations x, Vector weight, float eps, Activations out) = 0;
  // y = x · Wᵀ + bias (bias may be empty)
  virtual void linear(Activations x, const Matrix& w, Vector bias, Activations y) = 0;
  // Rotates every head of every row by its position (NeoX half-split pairs).
  virtual void rope(Activations x, int heads, int head_dim, const RopeParameters& rope) = 0;
  // Attention of q over the cached keys before each sequence's rows and the batch's own k/v,
  // then stores the batch's k/v into the cache.
  virtual void attention(Activations q, Activations k, Activations v, KvLayer cache,
                         const AttentionParameters& params, Activations out) = 0;
  // out = Σ over the top-k experts of softmax(top-k router logits) · expert(x)
  virtual void moe(Activations x, const MoeWeights& weights, const MoeParameters& params, Activations out) = 0;
  virtual void add(Activations x, Activations delta) = 0;  // x += delta
  // out[i] = x[layout.output_rows[i]]
  virtual void gather_output_rows(Activations x, Activations out) = 0;
};

std::unique_ptr<Backend> make_backend(const std::string& name, int threads);

}  // namespace gptoss
