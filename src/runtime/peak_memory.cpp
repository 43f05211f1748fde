#include "runtime/peak_memory.h"

#include <sys/resource.h>

namespace gptoss {

double peak_resident_gb() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) * 1024.0 / 1e9;  // ru_maxrss is in KiB on Linux
}

}  // namespace gptoss
