#include "backend/cpu/cpu_backend.h"

#include <chrono>
#include <cstring>

#include "backend/cpu/attention.h"
#include "backend/cpu/linear.h"
#include "backend/cpu/moe.h"
#include "backend/cpu/norm_rope.h"
#include "backend/registry.h"
#include "gptoss/error.h"
#include "sampling/sampling_steps.h"

namespace gptoss {

namespace {

class DoneEvent final : public Event {
 public:
  bool done() override { return true; }
  void synchronize() override {}
  double seconds_since(Event& earlier) override {
    return std::chrono::duration<double>(at_ - dynamic_cast<DoneEvent&>(earlier).at_).count();
  }

 private:
  std::chrono::steady_clock::time_point at_ = std::chrono::steady_clock::now();  // the work before it is done
};

// On the CPU every copy completes at once.
class HostStream final : public Stream {
 public:
  void copy_to_host(const void* device, int64_t bytes, void* host) override {
    if (bytes > 0) std::memcpy(host, device, static_cast<size_t>(bytes));
  }
  void copy_to_device(const void* host, int64_t bytes, void* device) override {
    if (bytes > 0) std::memcpy(device, host, static_cast<size_t>(bytes));
  }
  void synchronize() override {}
  std::unique_ptr<Event> record() override { return std::make_unique<DoneEvent>(); }
};

class CpuContext final : public ExecutionContext {
 public:
  void begin_batch(const BatchLayout& layout) override { layout_ = &layout; }
  Stream& stream() override { return stream_; }
  const BatchLayout& layout() const {
    if (layout_ == nullptr) throw Error("cpu backend: an op ran before begin_batch");
    return *layout_;
  }
  sampling::Workspace sampling;

 private:
  const BatchLayout* layout_ = nullptr;
  HostStream stream_;
};

const BatchLayout& layout_of(ExecutionContext& ctx) { return static_cast<CpuContext&>(ctx).layout(); }

}  // namespace

BackendEntry cpu_backend_entry() {
  return {.name = "cpu",
          .priority = 0,
          .available = [] { return true; },
          .make = [](const BackendOptions& o) -> std::unique_ptr<Backend> {
            return std::make_unique<CpuBackend>(o.threads, o.precision);
          }};
}

CpuBackend::CpuBackend(int threads, const std::string& precision)
    : precision_(resolve_precision(precision)), pool_(threads) {}

std::unique_ptr<ExecutionContext> CpuBackend::make_context() { return std::make_unique<CpuContext>(); }

void CpuBackend::embed(ExecutionContext& ctx, const Matrix& table, Activations out) {
  const auto& tokens = layout_of(ctx).tokens;
  pool_.parallel_for(out.rows, 16, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r)
      dequantize_row(table, 0, tokens[static_cast<size_t>(r)], out.f32() + r * out.cols);
  });
}

void CpuBackend::rmsnorm(ExecutionContext&, Activations x, Vector weight, float eps, Activations out) {
  pool_.parallel_for(x.rows, 8, [&](int64_t begin, int64_t end, int) {
    rmsnorm_rows(x.f32() + begin * x.cols, end - begin, x.cols, weight.data, eps, out.f32() + begin * x.cols);
  });
}

void CpuBackend::linear(ExecutionContext&, Activations x, const Matrix& w, Vector bias, Activations y) {
  gptoss::linear({x.f32(), x.rows, &w, 0, bias.data, y.f32(), y.cols}, pool_, best_cpu_kernels(), precision_);
}

void CpuBackend::rope(ExecutionContext& ctx, Activations x, int heads, int head_dim, const RopeParameters& rope) {
  const int32_t* positions = layout_of(ctx).positions.data();
  pool_.parallel_for(x.rows, 8, [&](int64_t begin, int64_t end, int) {
    rope_rows(x.f32() + begin * x.cols, end - begin, heads, head_dim, positions + begin, rope);
  });
}

void CpuBackend::attention(ExecutionContext& ctx, Activations q, Activations k, Activations v,
                           const KvLayerView& cache, const AttentionParameters& params, Activations out) {
  const BatchLayout& layout = layout_of(ctx);
  store_kv(k.f32(), v.f32(), layout, cache);
  attention_rows(q.f32(), layout, cache, params, out.f32(), pool_);
}

void CpuBackend::moe(ExecutionContext&, Activations x, const MoeWeights& weights, const MoeParameters& params,
                     Activations out) {
  moe_rows(x.f32(), x.rows, weights, params, out.f32(), pool_, precision_);
}

void CpuBackend::add(ExecutionContext&, Activations x, Activations delta) {
  float* a = x.f32();
  const float* b = delta.f32();
  // A decode step's few rows are fewer than the grain: they add on the caller, a prompt's on the pool.
  pool_.parallel_for(x.rows * x.cols, 16384, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) a[i] += b[i];
  });
}

void CpuBackend::gather_output_rows(ExecutionContext& ctx, Activations x, Activations out) {
  const auto& rows = layout_of(ctx).output_rows;
  for (size_t i = 0; i < rows.size(); ++i)
    std::memcpy(out.f32() + static_cast<int64_t>(i) * x.cols, x.f32() + rows[i] * x.cols,
                sizeof(float) * static_cast<size_t>(x.cols));
}

void CpuBackend::sample(ExecutionContext& ctx, Activations logits, std::span<const SampleRequest> requests,
                        std::span<SampleResult> results) {
  sampling::Workspace& w = static_cast<CpuContext&>(ctx).sampling;
  for (size_t i = 0; i < requests.size(); ++i) {
    const SampleRequest& r = requests[i];
    const std::span<const float> row(logits.f32() + static_cast<int64_t>(i) * logits.cols,
                                     static_cast<size_t>(logits.cols));
    SampleResult& out = results[i];
    out.token = sampling::sample_row(*r.options, r.vocab_size, row, r.history, r.uniform, w, r.allowed);
    if (r.logprobs) sampling::log_probs_of(row, out.token, r.top_logprobs, out.logprob, out.top, w);
  }
}

void CpuBackend::read_logits(ExecutionContext&, Activations logits, float* host) {
  std::memcpy(host, logits.data, static_cast<size_t>(logits.rows * logits.cols) * sizeof(float));
}

}  // namespace gptoss
