// The gpt-oss forward pass, written once against the Backend interface.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "backend/backend.h"
#include "gptoss/config.h"
#include "gptoss/observer.h"
#include "backend/weights.h"
#include "model/op_profile.h"

namespace gptoss {

// The KV cache as the forward pass needs it: each layer's view and window.
class KvLayers {
 public:
  virtual ~KvLayers() = default;
  virtual KvLayerView layer(int index) const = 0;
  virtual int window(int index) const = 0;  // 0: every earlier key
};

// Checked between layers; when it returns true the pass stops with gptoss::Interrupted.
using StopCheck = std::function<bool()>;

// One caller's forward pass: its execution context and activation buffers. Many may run on one
// backend at once; one ForwardPass is used by one thread at a time.
class ForwardPass {
 public:
  // `profile`, when given, receives every operation's time on the stream (from an event before
  // it to one after it, read once the pass is done: the operations run as they would unprofiled,
  // except that the pass is not replayed as one recording).
  ForwardPass(const ModelConfig& config, const ModelWeights& weights, Backend& backend, OpProfile* profile = nullptr);

  // Runs the rows of `layout` through every layer, storing their keys and values into `kv`, and
  // returns the logits of layout.output_rows ([outputs, vocab], backend memory, valid until
  // the next run).
  Activations run(const BatchLayout& layout, const KvLayers& kv, HiddenStateObserver* observer = nullptr,
                  const StopCheck& should_stop = {});

  Backend& backend() const { return backend_; }
  ExecutionContext& context() const { return *context_; }

 private:
  Activations buffer(Buffer& storage, int64_t rows, int64_t cols, const char* what);
  void observe(HiddenStateObserver* observer, int index, Activations x);
  // Runs op(); when profiling, times it as `name` with the weight bytes it read.
  template <class Op>
  void timed(const char* name, double weight_bytes, Op&& op);
  void record_timings();  // waits for the pass, then hands its timings to the profile

  struct Timing {
    std::string name;
    double weight_bytes;
    std::unique_ptr<Event> start, end;
  };

  const ModelConfig& config_;
  const ModelWeights& weights_;
  Backend& backend_;
  OpProfile* profile_;
  const char* phase_ = "";  // "decode/" (one row per sequence) or "prefill/", while profiling
  std::unique_ptr<ExecutionContext> context_;
  RopeParameters rope_;
  AttentionParameters attention_;
  MoeParameters moe_;
  Buffer x_, normed_, q_, k_, v_, attended_, delta_, outputs_, logits_;
  std::vector<float> host_scratch_;
  std::vector<Timing> timings_;  // the pass's so far, while profiling
};

}  // namespace gptoss
