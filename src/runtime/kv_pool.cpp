#include "runtime/kv_pool.h"

#include <algorithm>
#include <limits>
#include <string>

#include "gptoss/error.h"

namespace gptoss {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

void validate(const ModelConfig& config, const KvPoolOptions& o) {
  if (o.block_tokens < 16 || o.block_tokens > 32)
    throw Error("KV pool: block_tokens must be 16..32, got " + std::to_string(o.block_tokens));
  if (o.max_kv_size < 0) throw Error("KV pool: max_kv_size must be ≥ 0");
  if (o.max_sequences < 1) throw Error("KV pool: max_sequences must be ≥ 1");
  if (o.max_step_tokens < 1) throw Error("KV pool: max_step_tokens must be ≥ 1");
  if (o.rollback < 0) throw Error("KV pool: rollback must be ≥ 0");
  if (o.memory_bytes <= 0) throw Error("KV pool: memory_bytes must be > 0");
  if (config.layer_types.empty() || config.kv_width() <= 0) throw Error("KV pool: the config has no KV layers");
  for (AttentionKind kind : config.layer_types)
    if (kind == AttentionKind::sliding && config.sliding_window <= 0)
      throw Error("KV pool: sliding layers need sliding_window > 0");
}

}  // namespace

int64_t KvPool::bytes_for(const ModelConfig& config, const KvPoolOptions& options, int64_t tokens_per_sequence) {
  KvPoolOptions o = options;
  const int64_t bt = o.block_tokens;
  // Plan with exactly the windowed groups' share: the unbounded group (if any) is sized here.
  int64_t bytes = 0;
  o.memory_bytes = int64_t{1} << 40;
  for (const KvGroupPlan& p : plan(config, o)) {
    if (p.window > 0) {
      bytes += (p.required_blocks + o.max_sequences * (ceil_div(p.window - 1, bt) + 1)) * p.bytes_per_block;
    } else {
      const int64_t blocks = o.max_sequences * ceil_div(tokens_per_sequence, bt) + ceil_div(o.max_step_tokens, bt);
      bytes += std::max(blocks, p.required_blocks) * p.bytes_per_block;
    }
  }
  return bytes;
}

std::vector<KvGroupPlan> KvPool::plan(const ModelConfig& config, const KvPoolOptions& o) {
  validate(config, o);
  const int64_t bt = o.block_tokens;
  std::vector<KvGroupPlan> plans;
  for (AttentionKind kind : {AttentionKind::full, AttentionKind::sliding}) {
    KvGroupPlan p;
    p.window = kind == AttentionKind::full ? o.max_kv_size : config.sliding_window;
    for (size_t l = 0; l < config.layer_types.size(); ++l)
      if (config.layer_types[l] == kind) p.layers.push_back(static_cast<int>(l));
    if (p.layers.empty()) continue;
    p.bytes_per_block = static_cast<int64_t>(p.layers.size()) * 2 * bt * config.kv_width() * element_bytes(o.dtype);
    const int64_t step_blocks = ceil_div(o.max_step_tokens, bt);
    p.required_blocks = p.window > 0 ? o.max_sequences * (ceil_div(p.window - 1 + o.rollback, bt) + 2) + step_blocks
                                     : o.max_sequences + step_blocks;
    plans.push_back(std::move(p));
  }

  int64_t left = o.memory_bytes;
  int64_t windowed_required_bytes = 0;
  KvGroupPlan* unbounded = nullptr;
  for (KvGroupPlan& p : plans) {
    if (p.window == 0) {
      unbounded = &p;
      continue;
    }
    const int64_t headroom = o.max_sequences * (ceil_div(p.window - 1, bt) + 1);
    p.blocks = p.required_blocks + headroom;
    left -= p.blocks * p.bytes_per_block;
    windowed_required_bytes += p.blocks * p.bytes_per_block;
  }
  if (left < 0) throw Error("KV pool: memory_bytes (" + std::to_string(o.memory_bytes) +
                            ") is less than the windowed layers need (" + std::to_string(windowed_required_bytes) + ")");
  if (unbounded) {
    unbounded->blocks = left / unbounded->bytes_per_block;
    if (unbounded->blocks < unbounded->required_blocks)
      throw Error("KV pool: memory_bytes (" + std::to_string(o.memory_bytes) + ") leaves the full-attention layers " +
                  std::to_string(unbounded->blocks) + " blocks; they need at least " +
                  std::to_string(unbounded->required_blocks));
  } else {
    // Everything is windowed: the rest becomes prefix cache, in proportion to each group's need.
    const int64_t rest = left;
    for (KvGroupPlan& p : plans) {
      const double share = static_cast<double>(p.blocks * p.bytes_per_block) / static_cast<double>(windowed_required_bytes);
      p.blocks += static_cast<int64_t>(static_cast<double>(rest) * share) / p.bytes_per_block;
    }
  }
  for (const KvGroupPlan& p : plans)
    if (p.blocks > std::numeric_limits<int32_t>::max()) throw Error("KV pool: too many blocks for 32-bit block ids");
  return plans;
}

KvPool::KvPool(DeviceMemory& memory, const ModelConfig& config, const KvPoolOptions& options)
    : memory_(memory), options_(options), kv_width_(config.kv_width()) {
  const auto plans = plan(config, options);
  layer_group_.assign(config.layer_types.size(), -1);
  layers_.resize(config.layer_types.size());
  for (size_t g = 0; g < plans.size(); ++g) {
    const KvGroupPlan& p = plans[g];
    groups_.push_back(Group{p.window, p.layers, p.bytes_per_block, p.blocks, std::vector<int32_t>(static_cast<size_t>(p.blocks)),
                            {}, PrefixCache(p.blocks, options.block_tokens)});
    Group& group = groups_.back();
    group.free.reserve(static_cast<size_t>(p.blocks));
    for (int64_t b = p.blocks - 1; b >= 0; --b) group.free.push_back(static_cast<int32_t>(b));
    const int64_t elements = p.blocks * options.block_tokens * kv_width_;
    for (int l : p.layers) {
      layer_group_[static_cast<size_t>(l)] = static_cast<int>(g);
      layers_[static_cast<size_t>(l)].keys = memory.allocate(options.dtype, elements, "KV pool keys");
      layers_[static_cast<size_t>(l)].values = memory.allocate(options.dtype, elements, "KV pool values");
    }
  }
}

KvLayerView KvPool::layer(int l) const {
  const Layer& layer = layers_.at(static_cast<size_t>(l));
  const int g = group_of_layer(l);
  return KvLayerView{layer.keys.data(), layer.values.data(), options_.dtype, group(g).blocks,
                     options_.block_tokens, kv_width_, g};
}

bool KvPool::bounded() const {
  return std::all_of(groups_.begin(), groups_.end(), [](const Group& g) { return g.window > 0; });
}

int64_t KvPool::bytes_per_token() const {
  int64_t bytes = 0;
  for (const Group& g : groups_) bytes += g.bytes_per_block / options_.block_tokens;
  return bytes;
}

int64_t KvPool::free_blocks(int g) const {
  return static_cast<int64_t>(group(g).free.size()) + group(g).cache.parked_count();
}

int64_t KvPool::cached_blocks(int g) const { return group(g).cache.parked_count(); }

int32_t KvPool::allocate(int g) {
  Group& group = this->group(g);
  int32_t block = -1;
  if (!group.free.empty()) {
    block = group.free.back();
    group.free.pop_back();
  } else {
    block = group.cache.evict();
    if (block < 0) return -1;
  }
  group.refs[static_cast<size_t>(block)] = 1;
  return block;
}

void KvPool::retain(int g, int32_t block) {
  Group& group = this->group(g);
  int32_t& refs = group.refs.at(static_cast<size_t>(block));
  if (refs == 0) {
    if (!group.cache.parked(block)) throw Error("KV pool: retain of a free block " + std::to_string(block));
    group.cache.unpark(block);
  }
  ++refs;
}

void KvPool::release(int g, int32_t block) {
  Group& group = this->group(g);
  int32_t& refs = group.refs.at(static_cast<size_t>(block));
  if (refs <= 0) throw Error("KV pool: release of an unreferenced block " + std::to_string(block));
  if (--refs > 0) return;
  if (group.cache.hashed(block))
    group.cache.park(block);
  else
    group.free.push_back(block);
}

void KvPool::copy_block(int g, int32_t from, int32_t to, int tokens) {
  const int64_t row_bytes = kv_width_ * element_bytes(options_.dtype);
  const int64_t block_bytes = row_bytes * options_.block_tokens;
  for (int l : group(g).layers) {
    const Layer& layer = layers_[static_cast<size_t>(l)];
    for (const Buffer* buffer : {&layer.keys, &layer.values}) {
      auto* base = static_cast<char*>(buffer->data());
      memory_.copy(base + from * block_bytes, base + to * block_bytes, tokens * row_bytes);
    }
  }
}

void KvPool::check_invariants() const {
  for (size_t g = 0; g < groups_.size(); ++g) {
    const Group& group = groups_[g];
    std::vector<char> seen(static_cast<size_t>(group.blocks), 0);
    auto fail = [&](const std::string& what, int32_t b) {
      throw Error("KV pool group " + std::to_string(g) + ": block " + std::to_string(b) + " " + what);
    };
    for (int32_t b : group.free) {
      if (seen[static_cast<size_t>(b)]++) fail("is free twice", b);
      if (group.refs[static_cast<size_t>(b)] != 0) fail("is free but referenced", b);
      if (group.cache.hashed(b)) fail("is free but hashed", b);
    }
    int64_t parked = 0;
    for (int32_t b = 0; b < group.blocks; ++b) {
      const int32_t refs = group.refs[static_cast<size_t>(b)];
      if (refs < 0) fail("has a negative count", b);
      if (group.cache.parked(b)) {
        ++parked;
        if (refs != 0) fail("is cached but referenced", b);
        if (!group.cache.hashed(b)) fail("is cached without a hash", b);
        if (seen[static_cast<size_t>(b)]) fail("is cached and free", b);
      } else if (refs == 0 && !seen[static_cast<size_t>(b)]) {
        fail("is lost (neither referenced, cached nor free)", b);
      }
    }
    if (parked != group.cache.parked_count()) throw Error("KV pool: LRU size differs from the parked blocks");
  }
}

}  // namespace gptoss
