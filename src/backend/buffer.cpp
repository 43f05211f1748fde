#include "backend/buffer.h"

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "gptoss/error.h"

namespace gptoss {

const char* element_type_name(ElementType t) {
  switch (t) {
    case ElementType::f32: return "f32";
    case ElementType::bf16: return "bf16";
    case ElementType::f16: return "f16";
  }
  return "?";
}

Buffer HostMemory::allocate(ElementType dtype, int64_t elements, const char* what) {
  if (elements < 0) throw Error(std::string(what) + ": negative size");
  const auto bytes = static_cast<size_t>(elements * element_bytes(dtype));
  // calloc of a large block maps fresh zero pages: nothing is touched until used.
  void* data = bytes == 0 ? nullptr : std::calloc(bytes, 1);
  if (bytes != 0 && data == nullptr)
    throw Error(std::string("out of memory allocating ") + what + " (" + std::to_string(bytes) + " bytes)");
  return Buffer(data, dtype, elements, [](void* p) { std::free(p); });
}

void HostMemory::copy(const void* from, void* to, int64_t bytes) {
  if (bytes > 0) std::memmove(to, from, static_cast<size_t>(bytes));
}

int64_t HostMemory::available_memory() const {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  int64_t kib = 0;
  std::string unit;
  while (meminfo >> key >> kib >> unit)
    if (key == "MemAvailable:") return kib * 1024;
  return 0;
}

}  // namespace gptoss
