// Error checks for CUDA runtime calls: every failure becomes a gptoss::Error naming what failed.
#pragma once

#include <cuda_runtime.h>

namespace gptoss {

// Throws gptoss::Error "cuda: <what>: <CUDA's message>" when `status` is not cudaSuccess.
void cuda_check(cudaError_t status, const char* what);

// After a kernel launch: a bad launch configuration surfaces here, named by `kernel`.
inline void cuda_check_launch(const char* kernel) { cuda_check(cudaGetLastError(), kernel); }

}  // namespace gptoss
