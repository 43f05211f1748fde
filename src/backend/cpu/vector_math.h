// Small float32 vector routines shared by the CPU kernels. Each is compiled for AVX-512, AVX2
// and baseline x86-64 and picked at load time (GCC target_clones), so one binary runs anywhere.
#pragma once

#include <cstdint>

namespace gptoss {

float dot(const float* a, const float* b, int64_t n);
// y += alpha · x
void axpy(float alpha, const float* x, float* y, int64_t n);

}  // namespace gptoss
