#include "runtime/kv_cache.h"

#include <algorithm>

namespace gptoss {

KvCache::KvCache(Backend& backend, const ModelConfig& config, int slots, int context_length)
    : slots_(slots), context_length_(context_length) {
  for (AttentionKind kind : config.layer_types) {
    const int64_t capacity =
        kind == AttentionKind::sliding ? std::min(config.sliding_window, context_length) : context_length;
    const int64_t floats = static_cast<int64_t>(slots) * capacity * config.kv_width();
    capacity_.push_back(capacity);
    keys_.push_back(backend.allocate(floats));
    values_.push_back(backend.allocate(floats));
  }
}

KvLayer KvCache::layer(int index) const {
  const auto i = static_cast<size_t>(index);
  return KvLayer{keys_[i].data(), values_[i].data(), capacity_[i], slots_};
}

}  // namespace gptoss
