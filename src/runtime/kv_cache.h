// Keys and values of every layer for a fixed number of sequence slots. Sliding layers keep a
// ring of `sliding_window` positions; full layers keep `context_length` positions.
#pragma once

#include <vector>

#include "backend/backend.h"
#include "gptoss/config.h"

namespace gptoss {

class KvCache {
 public:
  KvCache(Backend& backend, const ModelConfig& config, int slots, int context_length);

  KvLayer layer(int index) const;
  int slots() const { return slots_; }
  int context_length() const { return context_length_; }

 private:
  int slots_;
  int context_length_;
  std::vector<int64_t> capacity_;
  std::vector<DeviceBuffer> keys_, values_;
};

}  // namespace gptoss
