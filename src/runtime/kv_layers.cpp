#include "runtime/kv_layers.h"

#include <algorithm>

namespace gptoss {

KvPoolOptions pool_options(const ModelConfig& config, const KvOptions& kv, int max_kv_size, int max_sequences,
                           int max_step_tokens, int64_t tokens_per_sequence, int rollback, const DeviceMemory& memory) {
  KvPoolOptions o;
  o.dtype = kv.precision == KvPrecision::f32 ? ElementType::f32 : ElementType::bf16;
  o.block_tokens = kv.block_tokens;
  o.max_kv_size = max_kv_size;
  o.max_sequences = max_sequences;
  o.max_step_tokens = max_step_tokens;
  o.rollback = rollback;
  if (kv.memory_bytes > 0) {
    o.memory_bytes = kv.memory_bytes;
    return o;
  }
  // Room for every sequence to reach tokens_per_sequence, within 90 % of what the device has
  // free (on the CPU the pool is lazily backed, so this reserves address space, not memory).
  o.memory_bytes = std::min(KvPool::bytes_for(config, o, tokens_per_sequence), memory.available_memory() / 10 * 9);
  return o;
}

}  // namespace gptoss
