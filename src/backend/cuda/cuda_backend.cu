#include "backend/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <span>
#include <string>

#include "backend/cuda/attention.cuh"
#include "backend/cuda/copy_bandwidth.cuh"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/cuda_context.h"
#include "backend/cuda/device_batch.h"
#include "backend/cuda/device_weights.h"
#include "backend/cuda/elementwise.cuh"
#include "backend/cuda/expert_down.cuh"
#include "backend/cuda/greedy.cuh"
#include "backend/cuda/linear.cuh"
#include "backend/cuda/moe_routing.cuh"
#include "gptoss/error.h"
#include "sampling/sampling_steps.h"

namespace gptoss {

namespace {

using cuda::CudaContext;
using cuda::cuda_context;

cuda::Precision resolve_cuda_precision(const std::string& name) {
  if (name == "auto" || name == "bf16") return cuda::Precision::bf16;
  if (name == "f32") return cuda::Precision::f32;
  throw Error("precision '" + name + "' is unknown (auto, f32, bf16)");
}

// A plain greedy request: the arg-max on the device answers it.
bool plain_greedy(const SampleRequest& r) {
  const SamplerOptions& o = *r.options;
  return o.temperature == 0 && o.logit_bias.empty() && o.repetition_penalty == 0 && o.presence_penalty == 0 &&
         o.frequency_penalty == 0 && !r.logprobs && r.allowed.empty();
}

// An RMSNorm a product applies to its inputs first (none: weight null); for the experts, `of`
// is the un-normalized input.
struct Norm {
  const float* weight = nullptr;
  float eps = 0.f;
  float* normed = nullptr;
  Activations of;
};

class CudaBackend final : public Backend {
 public:
  explicit CudaBackend(const std::string& precision) : precision_(resolve_cuda_precision(precision)) {
    cuda_check(cudaSetDevice(0), "selecting the GPU");
  }
  const char* name() const override { return "cuda"; }
  double measure_bandwidth_gbs(int) override { return cuda::measure_copy_bandwidth_gbs(); }

  Buffer allocate(ElementType dtype, int64_t elements, const char* what) override {
    if (elements < 0) throw Error(std::string(what) + ": negative size");
    const auto bytes = static_cast<size_t>(elements * element_bytes(dtype));
    void* data = nullptr;
    if (bytes > 0) {
      const cudaError_t status = cudaMalloc(&data, bytes);
      if (status != cudaSuccess) {
        cudaGetLastError();
        throw Error(std::string("out of GPU memory allocating ") + what + " (" + std::to_string(bytes) + " bytes)");
      }
      cuda_check(cudaMemset(data, 0, bytes), what);
      // The memset runs on the legacy stream, which the contexts' streams do not wait for.
      cuda_check(cudaDeviceSynchronize(), what);
    }
    return Buffer(data, dtype, elements, [](void* p) { cudaFree(p); });
  }
  // Complete when it returns, and after everything queued before it on any context's stream
  // (those streams do not wait for the legacy default stream, nor it for them).
  void copy(const void* from, void* to, int64_t bytes) override {
    if (bytes <= 0) return;
    cuda_check(cudaDeviceSynchronize(), "copying device memory");
    cuda_check(cudaMemcpy(to, from, static_cast<size_t>(bytes), cudaMemcpyDeviceToDevice), "copying device memory");
    cuda_check(cudaDeviceSynchronize(), "copying device memory");
  }
  int64_t available_memory() const override {
    size_t free = 0, total = 0;
    cuda_check(cudaMemGetInfo(&free, &total), "reading the free GPU memory");
    return static_cast<int64_t>(free);
  }

  ModelWeights prepare_weights(const ModelWeights& host) override { return weights_.upload(host); }
  std::unique_ptr<ExecutionContext> make_context() override { return std::make_unique<CudaContext>(); }

  void embed(ExecutionContext& ctx, const Matrix& table, Activations out) override {
    CudaContext& c = cuda_context(ctx);
    cuda::embed(table, c.batch().tokens, static_cast<int>(out.rows), out.f32(), c.raw());
  }
  void rmsnorm(ExecutionContext& ctx, Activations x, Vector weight, float eps, Activations out) override {
    cuda::rmsnorm(x.f32(), static_cast<int>(x.rows), static_cast<int>(x.cols), weight.data, eps, out.f32(),
                  cuda_context(ctx).raw());
  }
  void linear(ExecutionContext& ctx, Activations x, const Matrix& w, Vector bias, Activations y) override {
    product(ctx, x, w, bias, y, false);
  }
  // Decode-sized batches normalize inside the streaming products, in one launch where their
  // formats agree (the first hands `normed` on); prefill runs the RMSNorm kernel first.
  void rmsnorm_linears(ExecutionContext& ctx, Activations x, Vector norm, float eps, Activations normed,
                       std::span<const Product> products) override {
    if (x.rows > cuda::kStreamingMaxItems || products.size() > static_cast<size_t>(cuda::kMaxSharedInputProducts))
      return Backend::rmsnorm_linears(ctx, x, norm, eps, normed, products);
    cuda::LinearProblem problems[cuda::kMaxSharedInputProducts];
    for (size_t i = 0; i < products.size(); ++i) {
      const Product& p = products[i];
      problems[i] = problem(x, *p.w, p.bias, p.y, false, Norm{norm.data, eps, i == 0 ? normed.f32() : nullptr, {}});
    }
    const std::span<const cuda::LinearProblem> all(problems, products.size());
    if (cuda::can_stream_together(all)) return cuda::linear_streaming(all, cuda_context(ctx).raw());
    // Formats differ (MLX may quantize each module its own way): the first product normalizes.
    cuda::linear(problems[0], precision_, cuda_context(ctx).raw());
    for (const Product& p : products.subspan(1)) linear(ctx, normed, *p.w, p.bias, p.y);
  }
  void rmsnorm_moe_residual(ExecutionContext& ctx, Activations x, float eps, Activations normed,
                            const MoeWeights& weights, const MoeParameters& params, Activations scratch) override {
    if (x.rows > cuda::kStreamingMaxItems)
      return Backend::rmsnorm_moe_residual(ctx, x, eps, normed, weights, params, scratch);
    experts(ctx, normed, weights, params, x, true, Norm{weights.norm.data, eps, normed.f32(), x});
  }
  // The residual updates fuse their addition into the product's (or the experts') last kernel.
  void linear_residual(ExecutionContext& ctx, Activations in, const Matrix& w, Vector bias, Activations x,
                       Activations) override {
    product(ctx, in, w, bias, x, true);
  }
  void moe_residual(ExecutionContext& ctx, Activations in, const MoeWeights& weights, const MoeParameters& params,
                    Activations x, Activations) override {
    experts(ctx, in, weights, params, x, true);
  }
  void rope(ExecutionContext& ctx, Activations x, int heads, int head_dim, const RopeParameters& rope) override {
    CudaContext& c = cuda_context(ctx);
    cuda::rope(x.f32(), heads, static_cast<int>(x.rows), head_dim, c.batch().positions, rope_table(rope, head_dim),
               c.raw());
  }
  void attention(ExecutionContext& ctx, Activations q, Activations k, Activations v, const KvLayerView& cache,
                 const AttentionParameters& params, Activations out) override {
    attend(ctx, q, k, v, nullptr, cache, params, out);
  }
  void rope_attention(ExecutionContext& ctx, Activations q, Activations k, Activations v, const RopeParameters& rope,
                      const KvLayerView& cache, const AttentionParameters& params, Activations out) override {
    const cuda::RopeTable table = rope_table(rope, params.head_dim);
    attend(ctx, q, k, v, &table, cache, params, out);
  }
  void moe(ExecutionContext& ctx, Activations x, const MoeWeights& w, const MoeParameters& params,
           Activations out) override {
    experts(ctx, x, w, params, out, false);
  }
  void add(ExecutionContext& ctx, Activations x, Activations delta) override {
    cuda::add(x.f32(), delta.f32(), x.rows * x.cols, cuda_context(ctx).raw());
  }
  void gather_output_rows(ExecutionContext& ctx, Activations x, Activations out) override {
    CudaContext& c = cuda_context(ctx);
    cuda::gather_rows(x.f32(), x.cols, c.batch().output_rows, c.batch().outputs, out.f32(), c.raw());
  }

  // Plain greedy rows are answered by an arg-max on the device; every other request copies its
  // row to the host and runs the CPU's sampling steps on it (the same code, so the same tokens).
  void sample(ExecutionContext& ctx, Activations logits, std::span<const SampleRequest> requests,
              std::span<SampleResult> results) override {
    CudaContext& c = cuda_context(ctx);
    const cudaStream_t stream = c.raw();
    const auto rows = static_cast<int64_t>(requests.size());
    const bool all_greedy =
        std::all_of(requests.begin(), requests.end(), [](const SampleRequest& r) { return plain_greedy(r); }) &&
        std::all_of(requests.begin(), requests.end(),
                    [&](const SampleRequest& r) { return r.vocab_size == requests[0].vocab_size; });
    if (all_greedy && rows > 0) {
      int32_t* ids = c.greedy_ids.get<int32_t>(rows, stream, "allocating greedy ids");
      cuda::argmax_rows(logits.f32(), static_cast<int>(rows), logits.cols, requests[0].vocab_size, ids, stream);
      int32_t* host_ids = c.ids_host.get<int32_t>(rows);
      c.stream().copy_to_host(ids, rows * static_cast<int64_t>(sizeof(int32_t)), host_ids);
      c.stream().synchronize();
      if (std::none_of(host_ids, host_ids + rows, [](int32_t id) { return id < 0; })) {
        for (int64_t i = 0; i < rows; ++i) results[static_cast<size_t>(i)].token = host_ids[i];
        return;
      }
      // A row with a non-finite logit: the host path reports it.
    }
    float* host = c.logits_host.get<float>(rows * logits.cols);
    c.stream().copy_to_host(logits.data, rows * logits.cols * static_cast<int64_t>(sizeof(float)), host);
    c.stream().synchronize();
    for (int64_t i = 0; i < rows; ++i) {
      const SampleRequest& r = requests[static_cast<size_t>(i)];
      const std::span<const float> row(host + i * logits.cols, static_cast<size_t>(logits.cols));
      SampleResult& out = results[static_cast<size_t>(i)];
      out.token = sampling::sample_row(*r.options, r.vocab_size, row, r.history, r.uniform, c.sampling, r.allowed);
      if (r.logprobs) sampling::log_probs_of(row, out.token, r.top_logprobs, out.logprob, out.top, c.sampling);
    }
  }
  void read_logits(ExecutionContext& ctx, Activations logits, float* host) override {
    CudaContext& c = cuda_context(ctx);
    c.stream().copy_to_host(logits.data, logits.rows * logits.cols * static_cast<int64_t>(sizeof(float)), host);
    c.stream().synchronize();
  }

 private:
  static cuda::RopeTable rope_table(const RopeParameters& rope, int head_dim) {
    if (head_dim > cuda::kMaxHeadDim || static_cast<int64_t>(rope.inv_freq.size()) < head_dim / 2)
      throw Error("cuda rope: head_dim " + std::to_string(head_dim) + " is not supported");
    cuda::RopeTable table{};
    std::copy(rope.inv_freq.begin(), rope.inv_freq.begin() + head_dim / 2, table.inv_freq);
    table.scaling = rope.attention_scaling;
    return table;
  }
  // The KV store (rotating q and k first when `rope` is given), the splits and their merge.
  void attend(ExecutionContext& ctx, Activations q, Activations k, Activations v, const cuda::RopeTable* rope,
              const KvLayerView& cache, const AttentionParameters& params, Activations out) {
    CudaContext& c = cuda_context(ctx);
    check_cuda_attention(c.layout(), cache, params);
    cuda_store_kv(q.f32(), params.heads, k.f32(), v.f32(), c.batch(), cache, params.head_dim, rope, c.raw());
    void* scratch = c.attention.get<uint8_t>(
        static_cast<int64_t>(cuda_attention_scratch_bytes(c.batch(), params)), c.raw(),
        "allocating attention scratch");
    cuda_attention(q.f32(), c.batch(), cache, params, out.f32(), scratch, c.raw());
  }
  // linear(): y = x·Wᵀ + bias, or y += it for a residual update; x normalized first by `norm`.
  void product(ExecutionContext& ctx, Activations x, const Matrix& w, Vector bias, Activations y, bool accumulate,
               const Norm& norm = {}) {
    cuda::linear(problem(x, w, bias, y, accumulate, norm), precision_, cuda_context(ctx).raw());
  }
  static cuda::LinearProblem problem(Activations x, const Matrix& w, Vector bias, Activations y, bool accumulate,
                                     const Norm& norm) {
    cuda::LinearProblem p;
    p.w = w;
    p.x = x.f32();
    p.x_stride = x.cols;
    p.items = static_cast<int>(x.rows);
    p.max_items_per_matrix = p.items;
    p.bias = bias.data;
    p.y = y.f32();
    p.y_stride = y.cols;
    p.accumulate = accumulate;
    p.norm.weight = norm.weight;
    p.norm.eps = norm.eps;
    p.norm.normed = norm.normed;
    return p;
  }
  // moe(), writing out = the experts' sum, or adding it to out. With a norm, x is where the
  // router's product writes norm.of normalized, and the experts read it there.
  void experts(ExecutionContext& ctx, Activations x, const MoeWeights& w, const MoeParameters& params, Activations out,
               bool accumulate, const Norm& norm = {}) {
    CudaContext& c = cuda_context(ctx);
    const cudaStream_t stream = c.raw();
    const int rows = static_cast<int>(x.rows), k = params.experts_per_token, experts = params.experts;
    const int pairs = rows * k;
    const int64_t inner = w.gate.rows, hidden = w.down.rows;
    float* router_logits = c.router_logits.get<float>(static_cast<int64_t>(rows) * experts, stream, "allocating router logits");
    const Activations logits{router_logits, ElementType::f32, rows, experts};
    if (norm.weight != nullptr)
      product(ctx, norm.of, w.router, w.router_bias, logits, false, norm);
    else
      linear(ctx, x, w.router, w.router_bias, logits);

    const int slots = cuda::active_slots(rows, experts, k);
    auto* routing_memory =
        c.routing.get<int32_t>(4 * static_cast<int64_t>(pairs) + experts + 1 + slots, stream, "allocating routing");
    cuda::Routing routing;
    routing.expert = routing_memory;
    routing.weight = reinterpret_cast<float*>(routing_memory + pairs);
    routing.item_row = routing_memory + 2 * pairs;
    routing.pair_item = routing_memory + 3 * pairs;
    routing.offsets = routing_memory + 4 * pairs;
    routing.active = routing.offsets + experts + 1;
    cuda::route(router_logits, rows, experts, k, routing, stream);

    // Gate and up: each expert's items gather their token's row of x; a token reaches an expert
    // at most once, so no expert has more items than the batch has rows.
    float* hidden_values = c.hidden.get<float>(pairs * inner, stream, "allocating expert activations");
    cuda::LinearProblem p;
    p.x = x.f32();
    p.x_stride = x.cols;
    p.x_rows = routing.item_row;
    p.offsets = routing.offsets;
    p.matrix_list = routing.active;
    p.matrices = slots;
    p.items = pairs;
    p.max_items_per_matrix = rows;
    p.y_stride = inner;
    p.w = w.gate;
    p.bias = w.gate_bias.data;
    p.y = hidden_values;
    if (cuda::can_gate(p, w.up)) {
      // Decode: gate, up and SwiGLU in one pass over the two matrices' rows.
      cuda::linear_swiglu(p, w.up, w.up_bias.data, params.swiglu_limit, params.swiglu_alpha, stream);
    } else {
      float* gate = c.gate.get<float>(pairs * inner, stream, "allocating expert activations");
      float* up = c.up.get<float>(pairs * inner, stream, "allocating expert activations");
      p.y = gate;
      cuda::linear(p, precision_, stream);
      p.w = w.up;
      p.bias = w.up_bias.data;
      p.y = up;
      cuda::linear(p, precision_, stream);
      cuda::swiglu(gate, up, pairs * inner, params.swiglu_limit, params.swiglu_alpha, hidden_values, stream);
    }
    if (rows <= cuda::kDownCombineMaxRows) {
      // Decode: each token's down products and their weighted sum in one kernel.
      cuda::down_combine(w.down, w.down_bias.data, hidden_values, routing, rows, k, accumulate, out.f32(), stream);
      return;
    }
    // Down: item i reads its own row of the SwiGLU output; then the weighted sum per token.
    float* expert_out = c.expert_out.get<float>(pairs * hidden, stream, "allocating expert outputs");
    p.w = w.down;
    p.x = hidden_values;
    p.x_stride = inner;
    p.x_rows = nullptr;
    p.bias = w.down_bias.data;
    p.y = expert_out;
    p.y_stride = hidden;
    cuda::linear(p, precision_, stream);
    cuda::combine_experts(expert_out, hidden, routing, rows, k, accumulate, out.f32(), stream);
  }
  cuda::Precision precision_;
  cuda::DeviceWeights weights_;
};

bool cuda_device_available() {
  int devices = 0;
  const bool present = cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0;
  cudaGetLastError();  // no driver or no device leaves an error behind; clear it
  return present;
}

}  // namespace

BackendEntry cuda_backend_entry() {
  return {.name = "cuda",
          .priority = 10,
          .available = cuda_device_available,
          .make = [](const BackendOptions& o) -> std::unique_ptr<Backend> {
            return std::make_unique<CudaBackend>(o.precision);
          }};
}

}  // namespace gptoss
