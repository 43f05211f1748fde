// Kernel launches with programmatic dependent launch (PDL, sm_90): a kernel may start while the
// one before it on the stream is finishing, and waits for it only where it reads what that one
// wrote. Decode runs ~250 short kernels a token, so each one's start — block scheduling, and
// above all the first weight loads' DRAM latency — overlaps its predecessor's tail instead of
// following it.
//
// The protocol every kernel launched by launch() follows:
//   1. Before wait_for_inputs() it reads only constants (weights) — or data written by a
//      kernel at least two launches back, which is complete (rule 2).
//   2. It calls wait_for_inputs() — which returns once the previous kernel has completed and its
//      writes are visible — and only then start_next_kernel(), so that a kernel starting early
//      knows every kernel before its predecessor has finished.
// Both are no-ops on a GPU or launch without PDL: then the stream orders kernels as always.
#pragma once

#include <cuda_runtime.h>

#include <cstdlib>
#include <string>
#include <utility>

#include "backend/cuda/cuda_check.h"

namespace gptoss::cuda {

__device__ __forceinline__ void wait_for_inputs() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}

__device__ __forceinline__ void start_next_kernel() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// Both steps, for kernels that read nothing before their inputs.
__device__ __forceinline__ void wait_then_start_next() {
  wait_for_inputs();
  start_next_kernel();
}

// GPTOSS_CUDA_PDL=0 launches every kernel plainly, each after the previous one has finished
// (for debugging and comparisons).
inline bool pdl_enabled() {
  static const bool enabled = [] {
    const char* v = std::getenv("GPTOSS_CUDA_PDL");
    return v == nullptr || std::string(v) != "0";
  }();
  return enabled;
}

// kernel<<<grid, block, shared, stream>>>(args...) with the PDL attribute; `what` names the
// kernel in a launch error.
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), dim3 grid, dim3 block, size_t shared, cudaStream_t stream, const char* what,
            Args&&... args) {
  cudaLaunchAttribute attribute{};
  attribute.id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attribute.val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t config{};
  config.gridDim = grid;
  config.blockDim = block;
  config.dynamicSmemBytes = shared;
  config.stream = stream;
  config.attrs = &attribute;
  config.numAttrs = pdl_enabled() ? 1 : 0;
  const cudaError_t status = cudaLaunchKernelEx(&config, kernel, static_cast<Params>(std::forward<Args>(args))...);
  if (status == cudaSuccess) return;
  cuda_check(status, (std::string(what) + " (grid " + std::to_string(grid.x) + "×" + std::to_string(grid.y) + "×" +
                      std::to_string(grid.z) + ", " + std::to_string(block.x) + " threads, " + std::to_string(shared) +
                      " bytes of shared memory)")
                         .c_str());
}

}  // namespace gptoss::cuda
