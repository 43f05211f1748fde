#include "backend/backend.h"

#include "backend/cpu/cpu_backend.h"
#include "gptoss/error.h"

namespace gptoss {

std::unique_ptr<Backend> make_backend(const std::string& name, int threads) {
  if (name == "cpu") return std::make_unique<CpuBackend>(threads);
  throw Error("unknown backend '" + name + "' (available: cpu)");
}

}  // namespace gptoss
