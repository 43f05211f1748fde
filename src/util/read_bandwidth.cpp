#include "util/read_bandwidth.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gptoss/error.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace gptoss {

namespace {

constexpr size_t kBlockWords = 64;  // 512 bytes: a whole number of every kernel's loop steps

uint64_t sum_scalar(const uint64_t* p, size_t n) {
  uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
  for (size_t i = 0; i < n; i += 4) {
    a0 += p[i];
    a1 += p[i + 1];
    a2 += p[i + 2];
    a3 += p[i + 3];
  }
  return a0 + a1 + a2 + a3;
}

#if defined(__x86_64__)
// Eight independent accumulators keep enough loads in flight to saturate the memory, where one
// dependent chain of adds would wait on each.
__attribute__((target("avx2"))) uint64_t sum_avx2(const uint64_t* p, size_t n) {
  __m256i acc[8];
  for (auto& a : acc) a = _mm256_setzero_si256();
  for (size_t i = 0; i < n; i += 32)
    for (int j = 0; j < 8; ++j)
      acc[j] = _mm256_add_epi64(acc[j], _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 4 * j)));
  for (int j = 1; j < 8; ++j) acc[0] = _mm256_add_epi64(acc[0], acc[j]);
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), acc[0]);
  return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

__attribute__((target("avx512f"))) uint64_t sum_avx512(const uint64_t* p, size_t n) {
  __m512i acc[8];
  for (auto& a : acc) a = _mm512_setzero_si512();
  for (size_t i = 0; i < n; i += 64)
    for (int j = 0; j < 8; ++j) acc[j] = _mm512_add_epi64(acc[j], _mm512_load_si512(p + i + 8 * j));
  for (int j = 1; j < 8; ++j) acc[0] = _mm512_add_epi64(acc[0], acc[j]);
  // Stored and added by hand: GCC 12's _mm512_reduce_add_epi64 trips -Wuninitialized (bug 105593).
  alignas(64) uint64_t lanes[8];
  _mm512_store_si512(lanes, acc[0]);
  uint64_t sum = 0;
  for (const uint64_t lane : lanes) sum += lane;
  return sum;
}
#endif

using SumKernel = uint64_t (*)(const uint64_t*, size_t);

std::pair<SumKernel, const char*> best_kernel() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {sum_avx512, "avx512"};
  if (__builtin_cpu_supports("avx2")) return {sum_avx2, "avx2"};
#endif
  return {sum_scalar, "scalar"};
}

struct AlignedFree {
  void operator()(uint64_t* p) const { std::free(p); }
};

// Runs body(thread, first word, word count) on `threads` threads, each over its share of the
// blocks, and returns the wall time.
template <class Body>
double on_all_threads(int threads, size_t words, Body body) {
  const size_t blocks = words / kBlockWords;
  std::vector<std::thread> pool;
  const auto start = std::chrono::steady_clock::now();
  for (int t = 0; t < threads; ++t) {
    const size_t first = blocks * static_cast<size_t>(t) / static_cast<size_t>(threads);
    const size_t last = blocks * static_cast<size_t>(t + 1) / static_cast<size_t>(threads);
    pool.emplace_back(body, t, first * kBlockWords, (last - first) * kBlockWords);
  }
  for (auto& thread : pool) thread.join();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

ReadBandwidth measure_read_bandwidth(int threads, size_t bytes, int passes) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const size_t words = bytes / sizeof(uint64_t) / kBlockWords * kBlockWords;
  if (words == 0 || passes < 1) throw Error("read bandwidth: needs at least 512 bytes and one pass");
  std::unique_ptr<uint64_t, AlignedFree> buffer(static_cast<uint64_t*>(std::aligned_alloc(64, words * sizeof(uint64_t))));
  if (!buffer) throw Error("read bandwidth: cannot allocate " + std::to_string(bytes) + " bytes");
  uint64_t* data = buffer.get();
  // Each thread first touches the pages it will read (local memory on NUMA machines).
  on_all_threads(threads, words, [data](int, size_t first, size_t n) {
    for (size_t i = first; i < first + n; ++i) data[i] = i;
  });
  const auto [kernel, name] = best_kernel();
  const uint64_t expected = static_cast<uint64_t>(words) % 2 == 0 ? (words / 2) * (words - 1) : words * ((words - 1) / 2);
  ReadBandwidth result;
  result.kernel = name;
  double best = 0;
  for (int pass = 0; pass < passes; ++pass) {
    std::vector<uint64_t> sums(static_cast<size_t>(threads));
    const double seconds = on_all_threads(threads, words, [&, kernel = kernel](int t, size_t first, size_t n) {
      sums[static_cast<size_t>(t)] = kernel(data + first, n);
    });
    uint64_t sum = 0;
    for (const uint64_t s : sums) sum += s;
    if (sum != expected)
      throw Error("read bandwidth: the " + std::string(name) + " kernel summed " + std::to_string(sum) + ", not " +
                  std::to_string(expected));
    result.sum = sum;
    if (seconds > 0) best = std::max(best, static_cast<double>(words * sizeof(uint64_t)) / seconds / 1e9);
  }
  result.gb_per_second = best;
  return result;
}

double measure_read_bandwidth_gbs(int threads) { return measure_read_bandwidth(threads, size_t{1} << 30, 5).gb_per_second; }

}  // namespace gptoss
