#include "backend/cuda/copy_bandwidth.cuh"

#include <cuda_runtime.h>

#include <algorithm>
#include <vector>

#include "backend/cuda/cuda_check.h"
#include "backend/cuda/device_info.h"

namespace gptoss::cuda {

namespace {

// Four independent 16-byte loads in flight per thread before the stores.
__global__ void copy_kernel(const uint4* __restrict__ from, uint4* __restrict__ to, size_t n) {
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  size_t i = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  for (; i + 3 * stride < n; i += 4 * stride) {
    const uint4 a = from[i], b = from[i + stride], c = from[i + 2 * stride], d = from[i + 3 * stride];
    to[i] = a;
    to[i + stride] = b;
    to[i + 2 * stride] = c;
    to[i + 3 * stride] = d;
  }
  for (; i < n; i += stride) to[i] = from[i];
}

struct DeviceBuffer {
  void* data = nullptr;
  explicit DeviceBuffer(size_t bytes) { cuda_check(cudaMalloc(&data, bytes), "allocating the bandwidth probe"); }
  ~DeviceBuffer() { cudaFree(data); }
};

struct Event {
  cudaEvent_t event = nullptr;
  Event() { cuda_check(cudaEventCreate(&event), "creating an event"); }
  ~Event() { cudaEventDestroy(event); }
};

}  // namespace

double measure_copy_bandwidth_gbs() {
  constexpr size_t kBytes = size_t{1} << 30;  // per buffer: ~20 times an H200's L2
  constexpr int kRuns = 10;
  DeviceBuffer from(kBytes), to(kBytes);
  // Random-looking contents: a copy of zeros has been seen to run faster than of real data.
  cuda_check(cudaMemset(from.data, 0x5A, kBytes), "filling the bandwidth probe");
  const size_t vectors = kBytes / sizeof(uint4);
  const unsigned blocks = static_cast<unsigned>(multiprocessor_count()) * 4;
  Event start, stop;
  std::vector<float> ms;
  for (int run = -2; run < kRuns; ++run) {  // two warm-up runs
    cuda_check(cudaEventRecord(start.event), "timing the bandwidth probe");
    copy_kernel<<<blocks, 512>>>(static_cast<const uint4*>(from.data), static_cast<uint4*>(to.data), vectors);
    cuda_check_launch("bandwidth probe kernel");
    cuda_check(cudaEventRecord(stop.event), "timing the bandwidth probe");
    cuda_check(cudaEventSynchronize(stop.event), "timing the bandwidth probe");
    float elapsed = 0;
    cuda_check(cudaEventElapsedTime(&elapsed, start.event, stop.event), "timing the bandwidth probe");
    if (run >= 0) ms.push_back(elapsed);
  }
  std::nth_element(ms.begin(), ms.begin() + kRuns / 2, ms.end());
  return 2.0 * static_cast<double>(kBytes) / (ms[kRuns / 2] * 1e-3) / 1e9;
}

}  // namespace gptoss::cuda
