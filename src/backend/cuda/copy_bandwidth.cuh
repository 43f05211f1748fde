// The GPU's memory ceiling: a device-to-device copy kernel (16-byte loads and stores, every
// multiprocessor busy) over buffers far larger than L2, the median of several timed runs.
#pragma once

namespace gptoss::cuda {

// Bytes read plus bytes written per second, in GB/s, on the current device.
double measure_copy_bandwidth_gbs();

}  // namespace gptoss::cuda
