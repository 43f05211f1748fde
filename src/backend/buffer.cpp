#include "backend/buffer.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

#include "gptoss/error.h"

namespace gptoss {

namespace {
constexpr size_t kLazyBytes = size_t{1} << 20;  // from here on, mapped pages rather than the heap
}  // namespace

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
  const auto fail = [&] {
    throw Error(std::string("out of memory allocating ") + what + " (" + std::to_string(bytes) + " bytes)");
  };
  if (bytes < kLazyBytes) {
    void* data = bytes == 0 ? nullptr : std::calloc(bytes, 1);
    if (bytes != 0 && data == nullptr) fail();
    return Buffer(data, dtype, elements, [](void* p) { std::free(p); });
  }
  // Fresh anonymous pages read as zero and cost nothing until written: a KV pool sized for a
  // long context holds only what its used blocks hold (calloc may instead clear recycled heap).
  void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (data == MAP_FAILED) fail();
  return Buffer(data, dtype, elements, [bytes](void* p) { ::munmap(p, bytes); });
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
