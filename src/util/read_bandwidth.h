// How fast this machine can read memory: the ceiling a memory-bound decode step is measured
// against (gptoss bench, docs/PERFORMANCE.md). A vectorized read loop (AVX-512 or AVX2, chosen at
// run time) with eight independent accumulators per thread, all threads, over a buffer far
// larger than the caches, best of several passes: a plain two-thread scalar sum stays latency-
// bound and reported about a third of what the memory delivers.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gptoss {

struct ReadBandwidth {
  double gb_per_second = 0;  // best pass, 1 GB = 1e9 bytes
  uint64_t sum = 0;          // the 64-bit words of the buffer, added (wrapping): proof each pass read them all
  const char* kernel = "";   // "avx512", "avx2" or "scalar"
};

// Reads a buffer of `bytes` (rounded down to whole 512-byte blocks) filled with the words
// 0, 1, 2, … `passes` times with `threads` threads (0: one per hardware thread). Every pass's
// sum is checked against n(n−1)/2; a mismatch throws gptoss::Error.
ReadBandwidth measure_read_bandwidth(int threads, size_t bytes, int passes);

// measure_read_bandwidth(threads, 1 GiB, 5 passes).gb_per_second
double measure_read_bandwidth_gbs(int threads);

}  // namespace gptoss
