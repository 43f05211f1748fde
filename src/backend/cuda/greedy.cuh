// Greedy decoding on the device: the arg-max of each logits row, so that a plain greedy step
// brings back one id per row instead of the whole row (201,088 floats for gpt-oss).
#pragma once

#include <cuda_runtime.h>

#include <cstdint>

namespace gptoss::cuda {

// ids[r] = the index of the largest of logits[r·stride + i] for i < vocab (ties: the lowest
// index, as sampling::argmax), or −1 when the row holds a NaN or an infinity (the host path
// then reports it as the CPU does).
void argmax_rows(const float* logits, int rows, int64_t stride, int32_t vocab, int32_t* ids, cudaStream_t stream);

}  // namespace gptoss::cuda
