// The gpt-oss forward pass, written once against the Backend interface.
#pragma once

#include "backend/backend.h"
#include "gptoss/session.h"
#include "runtime/kv_cache.h"

namespace gptoss {

class ForwardPass {
 public:
  ForwardPass(const ModelConfig& config, const ModelWeights& weights, Backend& backend);

  // Runs the rows of `layout` through every layer, appending their keys and values to `cache`,
  // and writes the logits of layout.output_rows to `logits` ([outputs, vocab], host memory).
  void run(const BatchLayout& layout, KvCache& cache, float* logits, HiddenStateObserver* observer);

 private:
  Activations buffer(DeviceBuffer& storage, int64_t rows, int64_t cols);
  void observe(HiddenStateObserver* observer, int index, Activations x);

  const ModelConfig& config_;
  const ModelWeights& weights_;
  Backend& backend_;
  RopeParameters rope_;
  AttentionParameters attention_;
  MoeParameters moe_;
  DeviceBuffer x_, normed_, q_, k_, v_, attended_, delta_, outputs_, logits_;
  std::vector<float> host_scratch_;
};

}  // namespace gptoss
