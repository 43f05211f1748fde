#include "runtime/kv_cache.h"

#include <algorithm>

namespace gptoss {

namespace {
constexpr int64_t kInitialFullCapacity = 256;
}

KvCache::KvCache(Backend& backend, const ModelConfig& config, int slots, int context_length, int max_kv_size,
                 int rollback)
    : backend_(backend), slots_(slots), context_length_(context_length), rollback_(rollback),
      bounded_(max_kv_size > 0), kv_width_(config.kv_width()) {
  for (AttentionKind kind : config.layer_types) {
    Layer layer;
    layer.window = kind == AttentionKind::sliding ? config.sliding_window : max_kv_size;
    resize(layer, layer.window > 0 ? layer.window + rollback : std::min<int64_t>(kInitialFullCapacity, context_length));
    layers_.push_back(std::move(layer));
  }
}

void KvCache::resize(Layer& layer, int64_t capacity) {
  const int64_t floats = static_cast<int64_t>(slots_) * capacity * kv_width_;
  DeviceBuffer keys = backend_.allocate(floats), values = backend_.allocate(floats);
  const int64_t kept = std::min(layer.capacity, capacity) * kv_width_;
  for (int64_t s = 0; s < slots_ && kept > 0; ++s) {
    backend_.copy_on_device(layer.keys.data() + s * layer.capacity * kv_width_, kept, keys.data() + s * capacity * kv_width_);
    backend_.copy_on_device(layer.values.data() + s * layer.capacity * kv_width_, kept,
                            values.data() + s * capacity * kv_width_);
  }
  layer.keys = std::move(keys);
  layer.values = std::move(values);
  layer.capacity = capacity;
}

void KvCache::reserve(int64_t end_position) {
  for (Layer& layer : layers_) {
    if (layer.window > 0 || end_position <= layer.capacity) continue;
    resize(layer, std::min<int64_t>(context_length_, std::max(end_position, 2 * layer.capacity)));
  }
}

KvLayer KvCache::layer(int index) const {
  const Layer& l = layers_[static_cast<size_t>(index)];
  return KvLayer{l.keys.data(), l.values.data(), l.capacity, slots_};
}

}  // namespace gptoss
