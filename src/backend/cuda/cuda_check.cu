#include "backend/cuda/cuda_check.h"

#include <string>

#include "gptoss/error.h"

namespace gptoss {

void cuda_check(cudaError_t status, const char* what) {
  if (status == cudaSuccess) return;
  throw Error(std::string("cuda: ") + what + ": " + cudaGetErrorString(status));
}

}  // namespace gptoss
