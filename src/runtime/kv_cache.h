// Keys and values of every layer for a fixed number of sequence slots, stored per layer as
// [slot, position % capacity, kv_width]. Windowed layers (the sliding ones; the full ones too
// when max_kv_size bounds them) keep a ring of window + rollback positions: the extra slots let
// a sequence go back `rollback` tokens. Unbounded full layers keep every position: their
// capacity starts small and doubles on demand up to `context_length`, so a long context limit
// costs memory only when used.
#pragma once

#include <vector>

#include "backend/backend.h"
#include "gptoss/config.h"

namespace gptoss {

class KvCache {
 public:
  KvCache(Backend& backend, const ModelConfig& config, int slots, int context_length, int max_kv_size, int rollback);

  // Grows the unbounded layers so that positions below `end_position` fit (end ≤ context_length).
  void reserve(int64_t end_position);
  KvLayer layer(int index) const;
  int window(int index) const { return layers_[static_cast<size_t>(index)].window; }  // 0: all keys
  bool bounded() const { return bounded_; }  // every layer is windowed: no context limit
  int rollback() const { return rollback_; }
  int slots() const { return slots_; }
  int context_length() const { return context_length_; }

 private:
  struct Layer {
    int window = 0;  // > 0: a ring of window + rollback slots
    int64_t capacity = 0;
    DeviceBuffer keys, values;
  };
  void resize(Layer& layer, int64_t capacity);

  Backend& backend_;
  int slots_;
  int context_length_;
  int rollback_;
  bool bounded_;
  int64_t kv_width_;
  std::vector<Layer> layers_;
};

}  // namespace gptoss
