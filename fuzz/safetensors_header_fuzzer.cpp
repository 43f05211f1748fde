// Feeds arbitrary bytes to the safetensors header parser: it must either accept them with
// every invariant holding or throw gptoss::Error, never crash or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "gptoss/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const gptoss::SafetensorsHeader header = gptoss::parse_safetensors_header({data, size}, "fuzz");
    const uint64_t data_size = size - header.data_start;
    for (const auto& t : header.tensors)
      if (t.begin > t.end || t.end > data_size) std::abort();
  } catch (const gptoss::Error&) {
  }
  return 0;
}
