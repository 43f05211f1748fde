// What the kernels' launch shapes need to know of the GPU, read once.
#pragma once

namespace gptoss::cuda {

// The current device's multiprocessor count (132 on an H200).
int multiprocessor_count();

}  // namespace gptoss::cuda
