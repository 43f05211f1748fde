// The CPU backend: float32 activations in host memory, weights read in place from the mapped
// checkpoint, work split over a thread pool.
#pragma once

#include "backend/backend.h"
#include "util/thread_pool.h"

namespace gptoss {

class CpuBackend final : public Backend {
 public:
  explicit CpuBackend(int threads);
  const char* name() const override { return "cpu"; }

  ModelWeights prepare_weights(const ModelWeights& host) override { return host; }
  DeviceBuffer allocate(int64_t floats) override;
  void copy_to_host(const float* device, int64_t floats, float* host) override;
  void copy_on_device(const float* from, int64_t floats, float* to) override { copy_to_host(from, floats, to); }
  void begin_batch(const BatchLayout& layout) override { layout_ = &layout; }

  void embed(const Matrix& table, Activations out) override;
  void rmsnorm(Activations x, Vector weight, float eps, Activations out) override;
  void linear(Activations x, const Matrix& w, Vector bias, Activations y) override;
  void rope(Activations x, int heads, int head_dim, const RopeParameters& rope) override;
  void attention(Activations q, Activations k, Activations v, KvLayer cache, const AttentionParameters& params,
                 Activations out) override;
  void moe(Activations x, const MoeWeights& weights, const MoeParameters& params, Activations out) override;
  void add(Activations x, Activations delta) override;
  void gather_output_rows(Activations x, Activations out) override;

  ThreadPool& pool() { return pool_; }

 private:
  ThreadPool pool_;
  const BatchLayout* layout_ = nullptr;
};

}  // namespace gptoss
