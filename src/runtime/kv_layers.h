// The pool's layers as the forward pass sees them.
#pragma once

#include "gptoss/session.h"
#include "model/forward.h"
#include "runtime/kv_pool.h"

namespace gptoss {

class PoolLayers final : public KvLayers {
 public:
  explicit PoolLayers(const KvPool& pool) : pool_(pool) {}
  KvLayerView layer(int index) const override { return pool_.layer(index); }
  int window(int index) const override { return pool_.window(pool_.group_of_layer(index)); }

 private:
  const KvPool& pool_;
};

// The pool options a Session or Scheduler derives from the public KvOptions.
// memory_bytes 0 in `kv` asks for room for every sequence to reach tokens_per_sequence.
KvPoolOptions pool_options(const ModelConfig& config, const KvOptions& kv, int max_kv_size, int max_sequences,
                           int max_step_tokens, int64_t tokens_per_sequence, int rollback, const DeviceMemory& memory);

}  // namespace gptoss
