// The process's peak resident memory, which mlx_lm's statistics and the tools report.
#pragma once

namespace gptoss {

double peak_resident_gb();  // the peak resident set so far, in GB (10^9 bytes)

}  // namespace gptoss
