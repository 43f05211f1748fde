#include "backend/cuda/cuda_backend.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "backend/cuda/attention.cuh"
#include "backend/cuda/copy_bandwidth.cuh"
#include "backend/cuda/cuda_check.h"
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

// Device memory that grows on demand and keeps its address while big enough. Each growth
// counts in `generation` (recorded graphs hold the old address).
class Scratch {
 public:
  explicit Scratch(uint64_t* generation) : generation_(generation) {}
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { cudaFree(data_); }
  template <class T>
  T* get(int64_t count, cudaStream_t stream, const char* what) {
    const auto bytes = static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(T);
    if (bytes > bytes_) {
      // The stream may still read the old buffer.
      cuda_check(cudaStreamSynchronize(stream), what);
      cudaFree(data_);
      data_ = nullptr;
      bytes_ = 0;
      cuda_check(cudaMalloc(&data_, bytes), what);
      bytes_ = bytes;
      ++*generation_;
    }
    return static_cast<T*>(data_);
  }

 private:
  uint64_t* generation_;
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

// Page-locked host memory (asynchronous copies need it), grown on demand.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() { cudaFreeHost(data_); }
  template <class T>
  T* get(int64_t count) {
    const auto bytes = static_cast<size_t>(std::max<int64_t>(count, 1)) * sizeof(T);
    if (bytes > bytes_) {
      cudaFreeHost(data_);
      data_ = nullptr;
      bytes_ = 0;
      cuda_check(cudaMallocHost(&data_, bytes), "allocating page-locked host memory");
      bytes_ = bytes;
    }
    return static_cast<T*>(data_);
  }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

class CudaEvent final : public Event {
 public:
  explicit CudaEvent(cudaStream_t stream) {
    cuda_check(cudaEventCreateWithFlags(&event_, cudaEventDisableTiming), "creating an event");
    cuda_check(cudaEventRecord(event_, stream), "recording an event");
  }
  ~CudaEvent() override { cudaEventDestroy(event_); }
  bool done() override { return cudaEventQuery(event_) == cudaSuccess; }
  void synchronize() override { cuda_check(cudaEventSynchronize(event_), "waiting for an event"); }

 private:
  cudaEvent_t event_ = nullptr;
};

class CudaStream final : public Stream {
 public:
  CudaStream() { cuda_check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "creating a stream"); }
  ~CudaStream() override { cudaStreamDestroy(stream_); }
  void copy_to_host(const void* device, int64_t bytes, void* host) override {
    if (bytes > 0)
      cuda_check(cudaMemcpyAsync(host, device, static_cast<size_t>(bytes), cudaMemcpyDeviceToHost, stream_),
                 "copying to the host");
  }
  void copy_to_device(const void* host, int64_t bytes, void* device) override {
    if (bytes > 0)
      cuda_check(cudaMemcpyAsync(device, host, static_cast<size_t>(bytes), cudaMemcpyHostToDevice, stream_),
                 "copying to the device");
  }
  void synchronize() override { cuda_check(cudaStreamSynchronize(stream_), "waiting for the stream"); }
  std::unique_ptr<Event> record() override { return std::make_unique<CudaEvent>(stream_); }
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

int32_t checked_int32(int64_t value, const char* what) {
  if (value < 0 || value > std::numeric_limits<int32_t>::max())
    throw Error(std::string("cuda backend: ") + what + " " + std::to_string(value) + " does not fit 32 bits");
  return static_cast<int32_t>(value);
}

class CudaContext final : public ExecutionContext {
 public:
  // Copies the layout's arrays to the device (one transfer through page-locked memory).
  void begin_batch(const BatchLayout& layout) override {
    layout_ = &layout;
    const auto rows = static_cast<int64_t>(layout.tokens.size());
    const auto sequences = static_cast<int64_t>(layout.sequences.size());
    const auto outputs = static_cast<int64_t>(layout.output_rows.size());
    const auto tables = static_cast<int64_t>(layout.block_tables.size());
    const int64_t total = 3 * rows + 2 * sequences + 2 * kMaxKvGroups * sequences + tables + outputs;
    // The previous batch's transfer may still read the staging buffer.
    stream_.synchronize();
    int32_t* host = staging_.get<int32_t>(total);
    int32_t* device = indices_.get<int32_t>(total, stream_.get(), "allocating the batch layout");
    int64_t at = 0;
    auto place = [&](int64_t count) {
      const int64_t start = at;
      at += count;
      return start;
    };
    // The block tables last: they grow every few positions, and every other array's offset
    // must depend only on what the recorded graphs are keyed by (rows, sequences, outputs).
    const int64_t tokens_at = place(rows), positions_at = place(rows), row_sequence_at = place(rows);
    const int64_t first_row_at = place(sequences), seq_rows_at = place(sequences);
    const int64_t offset_at = place(kMaxKvGroups * sequences), length_at = place(kMaxKvGroups * sequences);
    const int64_t outputs_at = place(outputs), tables_at = place(tables);
    std::copy(layout.tokens.begin(), layout.tokens.end(), host + tokens_at);
    std::copy(layout.positions.begin(), layout.positions.end(), host + positions_at);
    std::copy(layout.block_tables.begin(), layout.block_tables.end(), host + tables_at);
    int max_position = 0;
    for (int32_t p : layout.positions) max_position = std::max(max_position, p);
    for (int64_t s = 0; s < sequences; ++s) {
      const auto& seq = layout.sequences[static_cast<size_t>(s)];
      host[first_row_at + s] = checked_int32(seq.first_row, "row");
      host[seq_rows_at + s] = checked_int32(seq.rows, "row count");
      for (int64_t r = seq.first_row; r < seq.first_row + seq.rows; ++r) host[row_sequence_at + r] = static_cast<int32_t>(s);
      for (int g = 0; g < kMaxKvGroups; ++g) {
        host[offset_at + s * kMaxKvGroups + g] = checked_int32(seq.table_offset[static_cast<size_t>(g)], "block table offset");
        host[length_at + s * kMaxKvGroups + g] = seq.table_length[static_cast<size_t>(g)];
      }
    }
    for (int64_t i = 0; i < outputs; ++i) host[outputs_at + i] = checked_int32(layout.output_rows[static_cast<size_t>(i)], "output row");
    stream_.copy_to_device(host, total * static_cast<int64_t>(sizeof(int32_t)), device);

    batch_ = DeviceBatch{};
    batch_.rows = checked_int32(rows, "batch rows");
    batch_.sequences = static_cast<int>(sequences);
    batch_.outputs = static_cast<int>(outputs);
    batch_.tokens = device + tokens_at;
    batch_.positions = device + positions_at;
    batch_.row_sequence = device + row_sequence_at;
    batch_.seq_first_row = device + first_row_at;
    batch_.seq_rows = device + seq_rows_at;
    batch_.table_offset = device + offset_at;
    batch_.table_length = device + length_at;
    batch_.block_tables = device + tables_at;
    batch_.output_rows = device + outputs_at;
    batch_.max_position = max_position;
    // The kernels' launch shapes depend on these; the attention grid on the context length's
    // power-of-two bucket, so one recording serves a decode step's next few hundred positions.
    batch_shape_ = mix(mix(mix(mix(static_cast<uint64_t>(rows), static_cast<uint64_t>(sequences)),
                               static_cast<uint64_t>(outputs)),
                           std::bit_ceil(static_cast<uint64_t>(max_position) + 1)),
                       static_cast<uint64_t>(reinterpret_cast<uintptr_t>(device)));
  }
  Stream& stream() override { return stream_; }

  // Eager the first time a shape is seen (that run grows every scratch buffer it needs), captured
  // into a CUDA graph the second time, replayed after that: a decode step becomes one launch
  // instead of some 20 per layer.
  void run_ops(uint64_t shape, const std::function<void()>& queue) override {
    if (!graphs_enabled()) return queue();
    if (generation_ != graphs_generation_) {
      // A scratch buffer moved since these were recorded.
      graphs_.clear();
      graphs_generation_ = generation_;
    }
    const uint64_t key = mix(shape, batch_shape_);
    if (const auto it = graphs_.find(key); it != graphs_.end()) {
      cuda_check(cudaGraphLaunch(it->second.get(), raw()), "replaying a recorded forward pass");
      return;
    }
    if (seen_.insert(key).second) return queue();
    cuda_check(cudaStreamBeginCapture(raw(), cudaStreamCaptureModeThreadLocal), "recording a forward pass");
    cudaGraph_t graph = nullptr;
    try {
      queue();
    } catch (...) {
      cudaStreamEndCapture(raw(), &graph);
      if (graph != nullptr) cudaGraphDestroy(graph);
      throw;
    }
    cuda_check(cudaStreamEndCapture(raw(), &graph), "recording a forward pass");
    cudaGraphExec_t exec = nullptr;
    const cudaError_t status = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    cuda_check(status, "instantiating a recorded forward pass");
    if (graphs_.size() >= kMaxGraphs) graphs_.clear();
    graphs_.emplace(key, GraphExec(exec, cudaGraphExecDestroy));
    cuda_check(cudaGraphLaunch(exec, raw()), "replaying a recorded forward pass");
  }
  cudaStream_t raw() const { return stream_.get(); }
  const BatchLayout& layout() const {
    if (layout_ == nullptr) throw Error("cuda backend: an op ran before begin_batch");
    return *layout_;
  }
  const DeviceBatch& batch() const {
    layout();
    return batch_;
  }

  // Scratch of the mixture of experts and of attention, and host staging for sampling.
  uint64_t generation_ = 0;  // growths of the scratch buffers so far
  Scratch router_logits{&generation_}, routing{&generation_}, gate{&generation_}, up{&generation_},
      hidden{&generation_}, expert_out{&generation_}, attention{&generation_}, greedy_ids{&generation_};
  PinnedBuffer logits_host, ids_host;
  sampling::Workspace sampling;

 private:
  static uint64_t mix(uint64_t h, uint64_t v) { return (h ^ (v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2))); }
  // GPTOSS_CUDA_GRAPHS=0 runs every forward pass eagerly (for debugging and comparisons).
  static bool graphs_enabled() {
    static const bool enabled = [] {
      const char* v = std::getenv("GPTOSS_CUDA_GRAPHS");
      return v == nullptr || std::string(v) != "0";
    }();
    return enabled;
  }
  static constexpr size_t kMaxGraphs = 64;
  using GraphExec = std::unique_ptr<CUgraphExec_st, cudaError_t (*)(cudaGraphExec_t)>;

  CudaStream stream_;
  const BatchLayout* layout_ = nullptr;
  DeviceBatch batch_;
  uint64_t batch_shape_ = 0;
  Scratch indices_{&generation_};
  uint64_t graphs_generation_ = 0;
  PinnedBuffer staging_;
  std::unordered_set<uint64_t> seen_;
  std::unordered_map<uint64_t, GraphExec> graphs_;
};

CudaContext& cuda_context(ExecutionContext& ctx) { return static_cast<CudaContext&>(ctx); }

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
    cuda::LinearProblem p;
    p.w = w;
    p.x = x.f32();
    p.x_stride = x.cols;
    p.items = static_cast<int>(x.rows);
    p.max_items_per_matrix = p.items;
    p.bias = bias.data;
    p.y = y.f32();
    p.y_stride = y.cols;
    cuda::linear(p, precision_, cuda_context(ctx).raw());
  }
  void rope(ExecutionContext& ctx, Activations x, int heads, int head_dim, const RopeParameters& rope) override {
    if (head_dim > cuda::kMaxHeadDim || static_cast<int64_t>(rope.inv_freq.size()) < head_dim / 2)
      throw Error("cuda rope: head_dim " + std::to_string(head_dim) + " is not supported");
    cuda::RopeTable table{};
    std::copy(rope.inv_freq.begin(), rope.inv_freq.begin() + head_dim / 2, table.inv_freq);
    table.scaling = rope.attention_scaling;
    CudaContext& c = cuda_context(ctx);
    cuda::rope(x.f32(), static_cast<int>(x.rows), heads, head_dim, c.batch().positions, table, c.raw());
  }
  void attention(ExecutionContext& ctx, Activations q, Activations k, Activations v, const KvLayerView& cache,
                 const AttentionParameters& params, Activations out) override {
    CudaContext& c = cuda_context(ctx);
    check_cuda_attention(c.layout(), cache, params);
    cuda_store_kv(k.f32(), v.f32(), c.batch(), cache, c.raw());
    void* scratch = c.attention.get<uint8_t>(
        static_cast<int64_t>(cuda_attention_scratch_bytes(c.batch(), params)), c.raw(),
        "allocating attention scratch");
    cuda_attention(q.f32(), c.batch(), cache, params, out.f32(), scratch, c.raw());
  }
  void moe(ExecutionContext& ctx, Activations x, const MoeWeights& w, const MoeParameters& params,
           Activations out) override {
    CudaContext& c = cuda_context(ctx);
    const cudaStream_t stream = c.raw();
    const int rows = static_cast<int>(x.rows), k = params.experts_per_token, experts = params.experts;
    const int pairs = rows * k;
    const int64_t inner = w.gate.rows, hidden = w.down.rows;
    float* router_logits = c.router_logits.get<float>(static_cast<int64_t>(rows) * experts, stream, "allocating router logits");
    linear(ctx, x, w.router, w.router_bias, Activations{router_logits, ElementType::f32, rows, experts});

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
      cuda::down_combine(w.down, w.down_bias.data, hidden_values, routing, rows, k, out.f32(), stream);
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
    cuda::combine_experts(expert_out, hidden, routing, rows, k, out.f32(), stream);
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
