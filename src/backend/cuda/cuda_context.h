// A CUDA execution context: its stream, the batch's indices on the device, scratch buffers
// that grow on demand, and the CUDA graphs it records of forward passes. Used by one thread at
// a time (ExecutionContext); the CudaBackend's ops queue their kernels on its stream.
#pragma once

#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <unordered_map>
#include <unordered_set>

#include "backend/backend.h"
#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_batch.h"
#include "gptoss/error.h"
#include "sampling/sampling_steps.h"

namespace gptoss::cuda {

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
  std::unique_ptr<Event> record() override;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

class CudaContext final : public ExecutionContext {
 public:
  // Copies the layout's arrays to the device (one transfer through page-locked memory).
  void begin_batch(const BatchLayout& layout) override;
  Stream& stream() override { return stream_; }

  // Eager the first time a shape is seen (that run grows every scratch buffer it needs), captured
  // into a CUDA graph the second time, replayed after that: a decode step becomes one launch
  // instead of some 20 per layer. GPTOSS_CUDA_GRAPHS=0 runs every pass eagerly.
  void run_ops(uint64_t shape, const std::function<void()>& queue) override;
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

inline CudaContext& cuda_context(ExecutionContext& ctx) { return static_cast<CudaContext&>(ctx); }

}  // namespace gptoss::cuda
