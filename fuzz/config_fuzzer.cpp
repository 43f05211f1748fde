// Feeds arbitrary bytes to the config.json parser: it must either return a config whose sizes
// respect the caps that keep every product in range, or throw gptoss::Error; never crash,
// overflow the stack on deep nesting, or allocate by an unchecked size.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "gptoss/config.h"
#include "gptoss/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const gptoss::ModelConfig c =
        gptoss::parse_config(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
    if (c.query_width() <= 0 || c.kv_width() <= 0 || c.query_width() > (int64_t{1} << 20)) std::abort();
    if (c.layer_types.size() != static_cast<size_t>(c.num_layers) || c.num_layers > 1024) std::abort();
    if (c.sliding_window > c.max_position_embeddings || c.experts_per_token > c.num_experts) std::abort();
  } catch (const gptoss::Error&) {
  }
  return 0;
}
