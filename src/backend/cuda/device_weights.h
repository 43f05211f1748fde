// The model's weights in device memory: the bytes of every matrix copied as they are in the
// files (the kernels read the packed formats in place: no dequantized copy, so device memory
// holds what the checkpoint holds), and the float32 vectors (norms, biases, sinks).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "backend/weights.h"

namespace gptoss::cuda {

class DeviceWeights {
 public:
  // Copies everything `host` views to the current device and returns the same weights viewing
  // the copies. `progress(done, total)` is told the bytes copied so far (may be empty). Throws
  // gptoss::Error naming the allocation that failed.
  ModelWeights upload(const ModelWeights& host, const std::function<void(int64_t, int64_t)>& progress = {});
  int64_t bytes() const { return bytes_; }

 private:
  std::vector<std::shared_ptr<void>> allocations_;
  int64_t bytes_ = 0;
};

}  // namespace gptoss::cuda
