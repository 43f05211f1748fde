// Bulk asynchronous copies from global to shared memory (sm_90's cp.async.bulk, the copy
// engine behind TMA, here without a tensor map) completed through an mbarrier.
//
// Why: the decode products are bound by how many bytes are in flight. A lane's loads into
// registers give a few hundred bytes per warp; one thread's bulk copy puts tens of kilobytes
// in flight per block, into shared memory, with no registers held while they land.
//
// Protocol (PTX ISA, "cp.async.bulk" and "mbarrier"): a barrier initialized with one arrival;
// the issuing thread arrives with expect_tx(total bytes), then issues copies that complete_tx
// their bytes on it; the phase completes when both happened, and waiters test its parity
// (0, 1, 0, … for the barrier's successive uses). Addresses and sizes are multiples of 16.
#pragma once

#include <cstdint>

namespace gptoss::cuda {

__device__ __forceinline__ uint32_t shared_address(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// One thread initializes; the block synchronizes before any use.
__device__ __forceinline__ void barrier_init(uint64_t* barrier) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;" ::"r"(shared_address(barrier)) : "memory");
  // Visible to the copy engine (the async proxy) before a copy signals it.
  asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
#endif
}

// The issuing thread: this phase completes when `bytes` have landed.
__device__ __forceinline__ void barrier_expect_bytes(uint64_t* barrier, uint32_t bytes) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(shared_address(barrier)), "r"(bytes)
               : "memory");
#endif
}

// bytes (a multiple of 16) from global `source` to shared `destination` (both 16-byte aligned).
__device__ __forceinline__ void bulk_copy(void* destination, const void* source, uint32_t bytes, uint64_t* barrier) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];" ::"r"(
          shared_address(destination)),
      "l"(source), "r"(bytes), "r"(shared_address(barrier))
      : "memory");
#endif
}

// Every thread that reads the copied bytes: returns once the phase of this parity completed.
__device__ __forceinline__ void barrier_wait(uint64_t* barrier, uint32_t parity) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n .reg .pred complete;\n"
        " mbarrier.try_wait.parity.shared::cta.b64 complete, [%1], %2;\n"
        " selp.u32 %0, 1, 0, complete;\n}"
        : "=r"(done)
        : "r"(shared_address(barrier)), "r"(parity)
        : "memory");
  } while (done == 0);
#else
  __trap();  // compiled for a GPU without bulk copies: the host must not have chosen this path
#endif
}

}  // namespace gptoss::cuda
