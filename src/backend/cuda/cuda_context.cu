#include "backend/cuda/cuda_context.h"

#include <bit>
#include <cstdlib>
#include <limits>
#include <string>

namespace gptoss::cuda {

namespace {

class CudaEvent final : public Event {
 public:
  explicit CudaEvent(cudaStream_t stream) {
    cuda_check(cudaEventCreate(&event_), "creating an event");  // (timed: seconds_since)
    cuda_check(cudaEventRecord(event_, stream), "recording an event");
  }
  ~CudaEvent() override { cudaEventDestroy(event_); }
  bool done() override { return cudaEventQuery(event_) == cudaSuccess; }
  void synchronize() override { cuda_check(cudaEventSynchronize(event_), "waiting for an event"); }
  double seconds_since(Event& earlier) override {
    float ms = 0.f;
    cuda_check(cudaEventElapsedTime(&ms, dynamic_cast<CudaEvent&>(earlier).event_, event_), "timing between events");
    return ms / 1e3;
  }

 private:
  cudaEvent_t event_ = nullptr;
};

int32_t checked_int32(int64_t value, const char* what) {
  if (value < 0 || value > std::numeric_limits<int32_t>::max())
    throw Error(std::string("cuda backend: ") + what + " " + std::to_string(value) + " does not fit 32 bits");
  return static_cast<int32_t>(value);
}

uint64_t mix(uint64_t h, uint64_t v) { return (h ^ (v + 0x9E3779B97F4A7C15ull + (h << 6) + (h >> 2))); }

// GPTOSS_CUDA_GRAPHS=0 runs every forward pass eagerly (for debugging and comparisons).
bool graphs_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("GPTOSS_CUDA_GRAPHS");
    return v == nullptr || std::string(v) != "0";
  }();
  return enabled;
}

}  // namespace

std::unique_ptr<Event> CudaStream::record() { return std::make_unique<CudaEvent>(stream_); }

void CudaContext::begin_batch(const BatchLayout& layout) {
  layout_ = &layout;
  const auto rows = static_cast<int64_t>(layout.tokens.size());
  const auto sequences = static_cast<int64_t>(layout.sequences.size());
  const auto outputs = static_cast<int64_t>(layout.output_rows.size());
  const auto tables = static_cast<int64_t>(layout.block_tables.size());
  const int64_t total = 3 * rows + kMaxKvGroups * sequences + outputs + tables;
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
  const int64_t offset_at = place(kMaxKvGroups * sequences);
  const int64_t outputs_at = place(outputs), tables_at = place(tables);
  std::copy(layout.tokens.begin(), layout.tokens.end(), host + tokens_at);
  std::copy(layout.positions.begin(), layout.positions.end(), host + positions_at);
  std::copy(layout.block_tables.begin(), layout.block_tables.end(), host + tables_at);
  int max_position = 0;
  for (int32_t p : layout.positions) max_position = std::max(max_position, p);
  for (int64_t s = 0; s < sequences; ++s) {
    const auto& seq = layout.sequences[static_cast<size_t>(s)];
    for (int64_t r = seq.first_row; r < seq.first_row + seq.rows; ++r) host[row_sequence_at + r] = static_cast<int32_t>(s);
    for (int g = 0; g < kMaxKvGroups; ++g)
      host[offset_at + s * kMaxKvGroups + g] = checked_int32(seq.table_offset[static_cast<size_t>(g)], "block table offset");
  }
  for (int64_t i = 0; i < outputs; ++i) host[outputs_at + i] = checked_int32(layout.output_rows[static_cast<size_t>(i)], "output row");
  stream_.copy_to_device(host, total * static_cast<int64_t>(sizeof(int32_t)), device);

  batch_ = DeviceBatch{};
  batch_.rows = checked_int32(rows, "batch rows");
  batch_.outputs = static_cast<int>(outputs);
  batch_.tokens = device + tokens_at;
  batch_.positions = device + positions_at;
  batch_.row_sequence = device + row_sequence_at;
  batch_.table_offset = device + offset_at;
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

void CudaContext::run_ops(uint64_t shape, const std::function<void()>& queue) {
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

}  // namespace gptoss::cuda
