#include "backend/cpu/kernels.h"

#include <cstdlib>
#include <string>

#include "gptoss/error.h"

namespace gptoss {

#ifndef GPTOSS_X86_KERNELS
const CpuKernels* avx2_kernels() { return nullptr; }
const CpuKernels* avx512_kernels() { return nullptr; }
const CpuKernels* amx_kernels() { return nullptr; }
#endif

const CpuKernels& best_cpu_kernels() {
  static const CpuKernels& chosen = [] () -> const CpuKernels& {
    const char* wanted = std::getenv("GPTOSS_CPU_KERNELS");
    const std::string name = wanted != nullptr ? wanted : "";
    const CpuKernels* amx = amx_kernels();
    const CpuKernels* avx512 = avx512_kernels();
    const CpuKernels* avx2 = avx2_kernels();
    if (name.empty()) return amx ? *amx : avx512 ? *avx512 : avx2 ? *avx2 : scalar_kernels();
    if (name == "scalar") return scalar_kernels();
    if (name == "avx2" && avx2 != nullptr) return *avx2;
    if (name == "avx512" && avx512 != nullptr) return *avx512;
    if (name == "amx" && amx != nullptr) return *amx;
    throw Error("GPTOSS_CPU_KERNELS=" + name + ": not available on this CPU (scalar, avx2, avx512, amx)");
  }();
  return chosen;
}

}  // namespace gptoss
