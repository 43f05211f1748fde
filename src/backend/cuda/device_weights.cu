#include "backend/cuda/device_weights.h"

#include <cuda_runtime.h>

#include <algorithm>
#include <map>
#include <string>

#include "backend/cuda/cuda_check.h"

namespace gptoss::cuda {

namespace {

// A span of host bytes some matrix reads: [begin, end).
struct Range {
  const uint8_t* begin;
  const uint8_t* end;
};

// The bytes a stack of strided rows spans, from its first row's start to its last row's end.
Range span_of(const uint8_t* first, int64_t count, int64_t matrix_stride, int64_t rows, int64_t row_stride,
              int64_t row_bytes) {
  return {first, first + (count - 1) * matrix_stride + (rows - 1) * row_stride + row_bytes};
}

template <class Visit>
void for_each_matrix(const ModelWeights& w, Visit&& visit) {
  visit(w.embedding);
  visit(w.lm_head);
  for (const LayerWeights& l : w.layers) {
    for (const Matrix* m : {&l.attention.q, &l.attention.k, &l.attention.v, &l.attention.o}) visit(*m);
    for (const Matrix* m : {&l.moe.router, &l.moe.gate, &l.moe.up, &l.moe.down}) visit(*m);
  }
}

template <class Visit>
void for_each_vector(ModelWeights& w, Visit&& visit) {
  visit(w.final_norm);
  for (LayerWeights& l : w.layers) {
    AttentionWeights& a = l.attention;
    for (Vector* v : {&a.norm, &a.q_bias, &a.k_bias, &a.v_bias, &a.o_bias, &a.sinks}) visit(*v);
    MoeWeights& m = l.moe;
    for (Vector* v : {&m.norm, &m.router_bias, &m.gate_bias, &m.up_bias, &m.down_bias}) visit(*v);
  }
}

std::shared_ptr<void> device_allocation(int64_t bytes, const char* what) {
  void* p = nullptr;
  const cudaError_t status = cudaMalloc(&p, static_cast<size_t>(std::max<int64_t>(bytes, 1)));
  if (status != cudaSuccess) {
    cudaGetLastError();  // clear the sticky-free allocation error
    cuda_check(status, (std::string("allocating ") + std::to_string(bytes) + " bytes for " + what).c_str());
  }
  return {p, [](void* q) { cudaFree(q); }};
}

}  // namespace

ModelWeights DeviceWeights::upload(const ModelWeights& host, const std::function<void(int64_t, int64_t)>& progress) {
  // Every byte range the matrices read; overlapping ranges (the interleaved gate/up views of one
  // tensor) merge, so each tensor is copied once.
  std::vector<Range> ranges;
  for_each_matrix(host, [&](const Matrix& m) {
    if (m.rows == 0 || m.count == 0) return;
    ranges.push_back(span_of(m.weight, m.count, m.weight_matrix_stride, m.rows, m.weight_row_stride,
                             packed_row_bytes(m.format, m.cols, m.bits)));
    for (const uint8_t* table : {m.scales, m.biases})
      if (table != nullptr)
        ranges.push_back(span_of(table, m.count, m.scale_matrix_stride, m.rows, m.scale_row_stride, scale_row_bytes(m)));
  });
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  std::vector<Range> merged;
  for (const Range& r : ranges) {
    if (!merged.empty() && r.begin < merged.back().end)
      merged.back().end = std::max(merged.back().end, r.end);
    else
      merged.push_back(r);
  }
  int64_t total = 0;
  for (const Range& r : merged) total += r.end - r.begin;

  // Host range start → its device copy.
  std::map<const uint8_t*, uint8_t*> device_of;
  int64_t done = 0;
  for (const Range& r : merged) {
    const int64_t bytes = r.end - r.begin;
    allocations_.push_back(device_allocation(bytes, "model weights"));
    auto* copy = static_cast<uint8_t*>(allocations_.back().get());
    cuda_check(cudaMemcpy(copy, r.begin, static_cast<size_t>(bytes), cudaMemcpyHostToDevice), "copying model weights");
    device_of[r.begin] = copy;
    done += bytes;
    if (progress) progress(done, total);
  }
  bytes_ += total;
  auto translate = [&](const uint8_t* p) -> const uint8_t* {
    if (p == nullptr) return nullptr;
    const auto it = std::prev(device_of.upper_bound(p));
    return it->second + (p - it->first);
  };

  ModelWeights device = host;
  auto move_matrix = [&](Matrix& m) {
    if (m.rows == 0 || m.count == 0) return;
    m.weight = translate(m.weight);
    m.scales = translate(m.scales);
    m.biases = translate(m.biases);
  };
  move_matrix(device.embedding);
  move_matrix(device.lm_head);
  for (LayerWeights& l : device.layers) {
    for (Matrix* m : {&l.attention.q, &l.attention.k, &l.attention.v, &l.attention.o}) move_matrix(*m);
    for (Matrix* m : {&l.moe.router, &l.moe.gate, &l.moe.up, &l.moe.down}) move_matrix(*m);
  }
  // Vectors: one copy per distinct host array.
  std::map<const float*, const float*> vector_copies;
  for_each_vector(device, [&](Vector& v) {
    if (v.data == nullptr || v.size == 0) return;
    auto [it, fresh] = vector_copies.try_emplace(v.data, nullptr);
    if (fresh) {
      const int64_t bytes = v.size * static_cast<int64_t>(sizeof(float));
      allocations_.push_back(device_allocation(bytes, "model vectors"));
      cuda_check(cudaMemcpy(allocations_.back().get(), v.data, static_cast<size_t>(bytes), cudaMemcpyHostToDevice),
                 "copying model vectors");
      bytes_ += bytes;
      it->second = static_cast<const float*>(allocations_.back().get());
    }
    v.data = it->second;
  });
  // A copy from pageable memory may return before its last DMA lands, and the contexts' streams
  // do not wait for the legacy stream it ran on.
  cuda_check(cudaDeviceSynchronize(), "copying model weights");
  return device;
}

}  // namespace gptoss::cuda
