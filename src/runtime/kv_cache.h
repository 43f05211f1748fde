// Keys and values of every layer for a fixed number of sequence slots, stored per layer as
// [slot, position % capacity, kv_width]. Sliding layers keep a ring of `sliding_window`
// positions. Full layers keep every position: their capacity starts small and doubles on
// demand up to `context_length`, so a long context limit costs memory only when used.
#pragma once

#include <vector>

#include "backend/backend.h"
#include "gptoss/config.h"

namespace gptoss {

class KvCache {
 public:
  KvCache(Backend& backend, const ModelConfig& config, int slots, int context_length);

  // Grows the full layers so that positions below `end_position` fit (end ≤ context_length).
  void reserve(int64_t end_position);
  KvLayer layer(int index) const;
  int slots() const { return slots_; }
  int context_length() const { return context_length_; }

 private:
  struct Layer {
    bool ring = false;
    int64_t capacity = 0;
    DeviceBuffer keys, values;
  };
  void resize(Layer& layer, int64_t capacity);

  Backend& backend_;
  int slots_;
  int context_length_;
  int64_t kv_width_;
  std::vector<Layer> layers_;
};

}  // namespace gptoss
