// The CPU backend: float32 activations in host memory, weights read in place from the mapped
// checkpoint, work split over one thread pool that every caller shares (its loops take turns).
#pragma once

#include "backend/backend.h"
#include "backend/cpu/linear.h"
#include "backend/registry.h"
#include "util/read_bandwidth.h"
#include "util/thread_pool.h"

namespace gptoss {

class CpuBackend final : public Backend {
 public:
  // Throws gptoss::Error for a precision this CPU cannot run (see LoadOptions::precision).
  CpuBackend(int threads, const std::string& precision);
  const char* name() const override { return "cpu"; }
  double measure_bandwidth_gbs(int threads) override { return measure_read_bandwidth_gbs(threads); }

  Buffer allocate(ElementType dtype, int64_t elements, const char* what) override {
    return memory_.allocate(dtype, elements, what);
  }
  void copy(const void* from, void* to, int64_t bytes) override { memory_.copy(from, to, bytes); }
  int64_t available_memory() const override { return memory_.available_memory(); }

  ModelWeights prepare_weights(const ModelWeights& host) override { return host; }
  std::unique_ptr<ExecutionContext> make_context() override;

  void embed(ExecutionContext& ctx, const Matrix& table, Activations out) override;
  void rmsnorm(ExecutionContext& ctx, Activations x, Vector weight, float eps, Activations out) override;
  void linear(ExecutionContext& ctx, Activations x, const Matrix& w, Vector bias, Activations y) override;
  void rope(ExecutionContext& ctx, Activations x, int heads, int head_dim, const RopeParameters& rope) override;
  void attention(ExecutionContext& ctx, Activations q, Activations k, Activations v, const KvLayerView& cache,
                 const AttentionParameters& params, Activations out) override;
  void moe(ExecutionContext& ctx, Activations x, const MoeWeights& weights, const MoeParameters& params,
           Activations out) override;
  void add(ExecutionContext& ctx, Activations x, Activations delta) override;
  void gather_output_rows(ExecutionContext& ctx, Activations x, Activations out) override;
  void sample(ExecutionContext& ctx, Activations logits, std::span<const SampleRequest> requests,
              std::span<SampleResult> results) override;
  void read_logits(ExecutionContext& ctx, Activations logits, float* host) override;

  ThreadPool& pool() { return pool_; }

 private:
  HostMemory memory_;
  LinearPrecision precision_;
  ThreadPool pool_;
};

// How the registry knows this backend.
BackendEntry cpu_backend_entry();

}  // namespace gptoss
