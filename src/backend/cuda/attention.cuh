// Attention on the GPU over the paged KV cache: the same semantics as the CPU's store_kv and
// attention_rows (backend/cpu/attention.h) — causal, grouped-query, per-head sinks, an optional
// sliding window — computed as flash-decoding: each (row, kv head) splits its keys over
// several blocks that each keep a running softmax (max, sum, weighted values), and a second
// kernel merges the splits with the sink.
#pragma once

#include <cuda_runtime.h>

#include <cstddef>

#include "backend/backend.h"
#include "backend/cuda/device_batch.h"
#include "backend/cuda/rope.cuh"

namespace gptoss {

// The host-side checks of the CPU path (view, shape, every block present) plus the kernels'
// own limits; throws gptoss::Error before anything is queued.
void check_cuda_attention(const BatchLayout& layout, const KvLayerView& cache, const AttentionParameters& params);

// Writes each row's key and value (kv_width floats) at its position, converted to the cache's
// dtype (bf16: round to nearest even, as the CPU). With `rope`, first rotates each row's
// queries (q_heads heads of head_dim) and keys in place, as rope() of both would, in the same
// launch (q is not read otherwise).
void cuda_store_kv(float* q, int q_heads, float* k, const float* v, const DeviceBatch& batch, const KvLayerView& cache,
                   int head_dim, const cuda::RopeTable* rope, cudaStream_t stream);

// Scratch bytes cuda_attention needs for this batch: the splits' partial results. Depends only
// on the batch's rows and max_position bucket and on the parameters (so a recorded graph keeps
// its buffers).
size_t cuda_attention_scratch_bytes(const DeviceBatch& batch, const AttentionParameters& params);

// out[row, head] = attention of q[row, head] over its keys; sinks are device memory.
void cuda_attention(const float* q, const DeviceBatch& batch, const KvLayerView& cache,
                    const AttentionParameters& params, float* out, void* scratch, cudaStream_t stream);

}  // namespace gptoss
