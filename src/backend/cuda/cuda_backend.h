// The CUDA backend: float32 activations in device memory, the checkpoint's packed weights
// copied to the device as they are and read in place by the kernels, one stream per execution
// context. Registered as "cuda" in builds with GPTOSS_CUDA; "auto" prefers it when a GPU is
// present.
#pragma once

#include "backend/registry.h"

namespace gptoss {

BackendEntry cuda_backend_entry();

}  // namespace gptoss
