// What the kernels' launch shapes need to know of the GPU, read once.
#pragma once

namespace gptoss::cuda {

// The current device's multiprocessor count (132 on an H200).
int multiprocessor_count();

// The current device's compute capability as 10·major + minor (90 on an H200).
int compute_capability();

}  // namespace gptoss::cuda
