// KvPool, PrefixCache and SequenceKv: the memory split, block refcounts, windowed release,
// prefix reuse (SWA-aware), LRU eviction, forks with copy on write, and a seeded random test of
// the bookkeeping invariants and of the data each table points at.
#include "runtime/kv_pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>
#include <optional>
#include <random>

#include "gptoss/error.h"
#include "runtime/prefix_cache.h"
#include "runtime/sequence_kv.h"

namespace gptoss {
namespace {

// 4 layers, sliding (window) / full alternating, 2 KV heads × 32.
ModelConfig tiny_config(int window = 16) {
  ModelConfig c;
  c.num_layers = 4;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.head_dim = 32;
  c.sliding_window = window;
  c.layer_types = {AttentionKind::sliding, AttentionKind::full, AttentionKind::sliding, AttentionKind::full};
  return c;
}

ModelConfig gpt_oss_20b_config() {
  ModelConfig c;
  c.num_layers = 24;
  c.num_attention_heads = 64;
  c.num_key_value_heads = 8;
  c.head_dim = 64;
  c.sliding_window = 128;
  for (int l = 0; l < 24; ++l) c.layer_types.push_back(l % 2 == 0 ? AttentionKind::sliding : AttentionKind::full);
  return c;
}

// Options whose memory gives the windowed groups their planned blocks and the full group
// exactly `full_blocks`.
KvPoolOptions sized(const ModelConfig& c, KvPoolOptions o, int64_t full_blocks) {
  o.memory_bytes = int64_t{1} << 40;
  int64_t bytes = 0;
  for (const KvGroupPlan& p : KvPool::plan(c, o)) bytes += (p.window ? p.blocks : full_blocks) * p.bytes_per_block;
  o.memory_bytes = bytes;
  return o;
}

KvPoolOptions tiny_options(int block_tokens = 16) {
  KvPoolOptions o;
  o.dtype = ElementType::f32;
  o.block_tokens = block_tokens;
  o.max_sequences = 2;
  o.max_step_tokens = 32;
  return o;
}

std::vector<int32_t> iota_tokens(int n, int32_t first = 1000) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), first);
  return t;
}

// Reserves and commits `tokens` in steps of `step`.
void feed(SequenceKv& s, std::span<const int32_t> tokens, int step) {
  for (size_t at = 0; at < tokens.size(); at += static_cast<size_t>(step)) {
    const auto n = std::min(tokens.size() - at, static_cast<size_t>(step));
    ASSERT_TRUE(s.reserve(s.length() + static_cast<int32_t>(n)));
    s.commit(s.length() + static_cast<int32_t>(n), tokens.subspan(at, n));
  }
}

// Takes every fresh block of group g and then `evict` cached ones (LRU first), and gives them
// back: the evicted blocks lose their prefix entries.
void evict_cached(KvPool& pool, int g, int64_t evict) {
  const int64_t fresh = pool.free_blocks(g) - pool.cached_blocks(g);
  std::vector<int32_t> taken;
  for (int64_t i = 0; i < fresh + evict; ++i) taken.push_back(pool.allocate(g));
  for (int32_t b : taken) {
    ASSERT_GE(b, 0);
    pool.release(g, b);
  }
}

TEST(KvPoolPlan, WindowedGroupsGetTheirNeedAndTheFullGroupTheRest) {
  const ModelConfig c = tiny_config(16);
  KvPoolOptions o = tiny_options(16);
  o.memory_bytes = 100 * 16384 + 12 * 16384 + 100;  // bytes_per_block: 2 layers·2·16·64·4 = 16 KiB
  const auto plans = KvPool::plan(c, o);
  ASSERT_EQ(plans.size(), 2u);
  EXPECT_EQ(plans[0].window, 0);
  EXPECT_EQ(plans[0].layers, (std::vector<int>{1, 3}));
  EXPECT_EQ(plans[1].window, 16);
  EXPECT_EQ(plans[1].layers, (std::vector<int>{0, 2}));
  EXPECT_EQ(plans[0].bytes_per_block, 16384);
  // required = 2·(ceil(15/16) + 2) + ceil(32/16) = 8; headroom = 2·(ceil(15/16) + 1) = 4
  EXPECT_EQ(plans[1].required_blocks, 8);
  EXPECT_EQ(plans[1].blocks, 12);
  EXPECT_EQ(plans[0].blocks, 100);

  o.rollback = 20;  // required = 2·(ceil(35/16) + 2) + 2 = 12
  o.memory_bytes = int64_t{1} << 30;
  EXPECT_EQ(KvPool::plan(c, o)[1].required_blocks, 12);

  o.rollback = 0;
  o.memory_bytes = 12 * 16384 + 3 * 16384;  // the full group needs max_sequences + 2 = 4
  EXPECT_THROW(KvPool::plan(c, o), Error);
  o.memory_bytes = 5 * 16384;
  EXPECT_THROW(KvPool::plan(c, o), Error);
}

TEST(KvPoolPlan, AllWindowedSplitsTheRestByNeedAndOneKindHasOneGroup) {
  const ModelConfig c = tiny_config(16);
  KvPoolOptions o = tiny_options(16);
  o.max_kv_size = 64;  // full: 2·(ceil(63/16) + 2) + 2 = 14 required, + 2·5 headroom = 24
  o.memory_bytes = 1000 * 16384;
  const auto plans = KvPool::plan(c, o);
  ASSERT_EQ(plans.size(), 2u);
  EXPECT_EQ(plans[0].window, 64);
  EXPECT_EQ(plans[0].required_blocks, 14);
  EXPECT_GE(plans[0].blocks, 24);
  EXPECT_GE(plans[1].blocks, 12);
  EXPECT_LE(plans[0].blocks + plans[1].blocks, 1000);
  EXPECT_GE(plans[0].blocks + plans[1].blocks, 998);
  EXPECT_NEAR(static_cast<double>(plans[0].blocks) / plans[1].blocks, 24.0 / 12.0, 0.01);
  HostMemory memory;
  EXPECT_TRUE(KvPool(memory, c, o).bounded());

  ModelConfig full_only = c;
  full_only.layer_types.assign(4, AttentionKind::full);
  o.max_kv_size = 0;
  KvPool pool(memory, full_only, o);
  EXPECT_FALSE(pool.bounded());
  EXPECT_EQ(pool.groups(), 1);
  EXPECT_EQ(pool.total_blocks(0), 500);  // 4 layers per block now: 32 KiB
  for (int l = 0; l < 4; ++l) EXPECT_EQ(pool.group_of_layer(l), 0);
}

TEST(KvPool, BytesPerTokenOfGptOss20b) {
  const ModelConfig c = gpt_oss_20b_config();
  KvPoolOptions o;  // bf16, 32-token blocks
  o.memory_bytes = 64 << 20;
  HostMemory memory;
  KvPool pool(memory, c, o);
  ASSERT_EQ(pool.groups(), 2);
  EXPECT_EQ(pool.bytes_per_block(0) / pool.block_tokens(), 24 * 1024);  // 12 full layers · 2 · 8 · 64 · 2 bytes
  EXPECT_EQ(pool.bytes_per_token(), 48 * 1024);
  EXPECT_EQ(pool.window(0), 0);
  EXPECT_EQ(pool.window(1), 128);
  const KvLayerView view = pool.layer(1);
  EXPECT_EQ(view.group, 0);
  EXPECT_EQ(view.kv_width, 512);
  EXPECT_EQ(view.block_tokens, 32);
  EXPECT_EQ(view.dtype, ElementType::bf16);
  EXPECT_EQ(view.blocks, pool.total_blocks(0));
  EXPECT_EQ(pool.layer(0).group, 1);
  EXPECT_LE(pool.total_blocks(0) * pool.bytes_per_block(0) + pool.total_blocks(1) * pool.bytes_per_block(1), o.memory_bytes);
}

TEST(KvPool, AllocateRetainReleaseCount) {
  const ModelConfig c = tiny_config();
  HostMemory memory;
  KvPool pool(memory, c, sized(c, tiny_options(), 6));
  ASSERT_EQ(pool.total_blocks(0), 6);
  std::vector<int32_t> blocks;
  for (int i = 0; i < 6; ++i) blocks.push_back(pool.allocate(0));
  EXPECT_EQ(blocks, (std::vector<int32_t>{0, 1, 2, 3, 4, 5}));  // lowest first: memory follows use
  EXPECT_EQ(pool.allocate(0), -1);
  EXPECT_EQ(pool.free_blocks(0), 0);
  pool.retain(0, 3);
  EXPECT_EQ(pool.refcount(0, 3), 2);
  pool.release(0, 3);
  EXPECT_EQ(pool.free_blocks(0), 0);
  pool.release(0, 3);
  EXPECT_EQ(pool.free_blocks(0), 1);
  EXPECT_EQ(pool.refcount(0, 3), 0);
  EXPECT_THROW(pool.release(0, 3), Error);
  EXPECT_THROW(pool.retain(0, 3), Error);
  EXPECT_EQ(pool.allocate(0), 3);
  pool.check_invariants();
  EXPECT_EQ(pool.free_blocks(1), pool.total_blocks(1));  // groups are independent
}

TEST(KvPool, FreshBlocksBeforeEvictingTheLeastRecentlyUsed) {
  const ModelConfig c = tiny_config();
  HostMemory memory;
  KvPool pool(memory, c, sized(c, tiny_options(), 4));
  PrefixCache& cache = pool.prefix_cache(0);
  const auto tokens_a = iota_tokens(16, 1), tokens_b = iota_tokens(16, 2);
  const uint64_t ha = PrefixCache::chain(PrefixCache::kRootHash, tokens_a);
  const uint64_t hb = PrefixCache::chain(PrefixCache::kRootHash, tokens_b);
  EXPECT_NE(ha, hb);
  const int32_t a = pool.allocate(0), b = pool.allocate(0);
  ASSERT_TRUE(cache.insert(a, ha, PrefixCache::kRootHash, tokens_a));
  ASSERT_TRUE(cache.insert(b, hb, PrefixCache::kRootHash, tokens_b));
  EXPECT_FALSE(cache.insert(pool.allocate(0), ha, PrefixCache::kRootHash, tokens_a));  // hash taken
  pool.release(0, 2);
  pool.release(0, a);
  pool.release(0, b);  // LRU: a, then b
  EXPECT_EQ(pool.cached_blocks(0), 2);
  EXPECT_EQ(pool.free_blocks(0), 4);
  EXPECT_EQ(cache.find(ha, PrefixCache::kRootHash, tokens_a), a);
  EXPECT_EQ(cache.find(ha, PrefixCache::kRootHash, tokens_b), -1);  // the tokens are checked
  EXPECT_EQ(cache.find(ha, hb, tokens_a), -1);                      // and the parent

  std::vector<int32_t> got{pool.allocate(0), pool.allocate(0)};
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, (std::vector<int32_t>{2, 3}));  // fresh ones first
  EXPECT_EQ(pool.cached_blocks(0), 2);
  EXPECT_EQ(pool.allocate(0), a);  // then the least recently used
  EXPECT_EQ(cache.find(ha, PrefixCache::kRootHash, tokens_a), -1);
  EXPECT_EQ(cache.find(hb, PrefixCache::kRootHash, tokens_b), b);
  pool.retain(0, b);  // a cached block comes back to life
  EXPECT_EQ(pool.cached_blocks(0), 0);
  EXPECT_EQ(pool.allocate(0), -1);
  pool.check_invariants();
}

TEST(SequenceKv, MemoryFollowsUse) {
  const ModelConfig c = tiny_config(16);
  HostMemory memory;
  KvPool pool(memory, c, sized(c, tiny_options(16), 64));
  for (int step : {1, 7, 32}) {
    SequenceKv s(pool);
    const auto tokens = iota_tokens(700);
    for (size_t at = 0; at < tokens.size(); at += static_cast<size_t>(step)) {
      const auto n = static_cast<int32_t>(std::min(tokens.size() - at, static_cast<size_t>(step)));
      ASSERT_TRUE(s.reserve(s.length() + n));
      // While a step runs the windowed group holds the window and the step's blocks.
      EXPECT_LE(s.blocks_held(1), 1 + 1 + (n + 15) / 16 + 1);
      s.commit(s.length() + n, std::span(tokens).subspan(at, static_cast<size_t>(n)));
      EXPECT_EQ(s.blocks_held(0), (s.length() + 15) / 16);
      EXPECT_EQ(s.table(0).size(), static_cast<size_t>((s.length() + 15) / 16));
      // Positions [length − 15, length) span at most 2 blocks.
      EXPECT_LE(s.blocks_held(1), 2);
      EXPECT_EQ(s.table(1).size(), s.table(0).size());
      for (int32_t p = std::max(0, s.length() - 15); p < s.length(); ++p) EXPECT_GE(s.table(1)[static_cast<size_t>(p / 16)], 0);
    }
    EXPECT_EQ(pool.free_blocks(0), 64 - 44);
    s.release();
    EXPECT_EQ(s.length(), 0);
    EXPECT_EQ(pool.free_blocks(0), 64);
    EXPECT_EQ(pool.free_blocks(1), pool.total_blocks(1));
    pool.check_invariants();
  }
}

TEST(SequenceKv, WindowedBlocksKeptForRollback) {
  const ModelConfig c = tiny_config(16);
  KvPoolOptions o = tiny_options(16);
  o.rollback = 20;
  HostMemory memory;
  KvPool pool(memory, c, sized(c, o, 64));
  SequenceKv s(pool);
  const auto tokens = iota_tokens(300);
  feed(s, tokens, 5);
  // Positions ≥ 300 − 15 − 20 = 265 stay: blocks 16..18.
  EXPECT_EQ(s.blocks_held(1), 3);
  EXPECT_EQ(s.table(1)[15], -1);
  EXPECT_GE(s.table(1)[16], 0);
  const auto before = s.table(1);
  EXPECT_FALSE(s.truncate(270));  // the token at 270 reads 255, gone with block 15
  EXPECT_EQ(s.length(), 300);
  EXPECT_EQ(s.table(1), before);
  ASSERT_TRUE(s.truncate(271));  // reads 256.., block 16
  EXPECT_EQ(s.length(), 271);
  EXPECT_EQ(s.table(0).size(), 17u);
  EXPECT_EQ(s.tokens().size(), 271u);
  feed(s, std::span(tokens).subspan(271), 4);
  EXPECT_EQ(std::vector<int32_t>(s.tokens().begin(), s.tokens().end()), tokens);
  pool.check_invariants();
}

TEST(SequenceKv, FailedReserveChangesNothing) {
  const ModelConfig c = tiny_config(16);
  HostMemory memory;
  KvPool pool(memory, c, sized(c, tiny_options(16), 8));
  SequenceKv a(pool), b(pool);
  feed(a, iota_tokens(100), 32);  // 7 blocks
  const auto free0 = pool.free_blocks(0), free1 = pool.free_blocks(1);
  EXPECT_EQ(b.blocks_to_reserve(0, 40), 3);
  EXPECT_EQ(a.blocks_to_reserve(0, 130), 2);
  EXPECT_EQ(a.blocks_to_reserve(0, 112), 0);
  EXPECT_FALSE(b.reserve(40));
  EXPECT_FALSE(a.reserve(130));
  EXPECT_EQ(pool.free_blocks(0), free0);
  EXPECT_EQ(pool.free_blocks(1), free1);
  EXPECT_TRUE(b.table(0).empty());
  EXPECT_TRUE(b.table(1).empty());
  EXPECT_EQ(a.table(0).size(), 7u);
  EXPECT_TRUE(a.reserve(112));
  EXPECT_TRUE(b.reserve(16));
  EXPECT_FALSE(b.reserve(17));
  pool.check_invariants();
}

TEST(SequenceKv, SharedPrefixIsAdoptedWithTheSameBlocks) {
  for (const auto& [window, bt] : {std::pair{16, 16}, std::pair{128, 32}, std::pair{16, 32}, std::pair{128, 16}}) {
    SCOPED_TRACE("window " + std::to_string(window) + ", block_tokens " + std::to_string(bt));
    const ModelConfig c = tiny_config(window);
    KvPoolOptions o = tiny_options(bt);
    o.max_sequences = 8;  // sliding blocks to spare: nothing is evicted here
    HostMemory memory;
    KvPool pool(memory, c, sized(c, o, 64));
    auto prompt_a = iota_tokens(210), prompt_b = iota_tokens(230);
    std::fill(prompt_b.begin() + 200, prompt_b.end(), 7);  // the same first 200 tokens
    SequenceKv a(pool);
    feed(a, std::span(prompt_a).first(200), 32);
    const auto full_a = a.table(0), sliding_a = a.table(1);
    feed(a, std::span(prompt_a).subspan(200), 32);

    SequenceKv b(pool);
    const int32_t adopted = b.adopt_prefix(prompt_b);
    const int32_t blocks = 200 / bt;
    EXPECT_EQ(adopted, blocks * bt);
    EXPECT_EQ(b.length(), adopted);
    ASSERT_EQ(b.table(0).size(), static_cast<size_t>(blocks));
    for (int i = 0; i < blocks; ++i) {
      EXPECT_EQ(b.table(0)[static_cast<size_t>(i)], full_a[static_cast<size_t>(i)]);
      EXPECT_EQ(pool.refcount(0, full_a[static_cast<size_t>(i)]), 2);
    }
    // The sliding group adopts only the blocks covering [P − window + 1, P).
    const int first = std::max(0, adopted - window + 1) / bt;
    for (int i = 0; i < blocks; ++i)
      EXPECT_EQ(b.table(1)[static_cast<size_t>(i)], i < first ? -1 : sliding_a[static_cast<size_t>(i)]) << i;
    EXPECT_EQ(b.blocks_held(1), blocks - first);

    // A prompt that is all cached leaves one token to compute: a whole-block prompt gives up
    // its last block.
    SequenceKv d(pool);
    EXPECT_EQ(d.adopt_prefix(std::span(prompt_a).first(static_cast<size_t>(2 * bt))), bt);
    EXPECT_EQ(SequenceKv(pool).adopt_prefix(std::span(prompt_a).first(static_cast<size_t>(bt))), 0);

    feed(b, std::span(prompt_b).subspan(static_cast<size_t>(adopted)), 9);
    EXPECT_EQ(std::vector<int32_t>(b.tokens().begin(), b.tokens().end()), prompt_b);
    pool.check_invariants();
  }
}

TEST(SequenceKv, EvictedWindowBlocksShortenOrPreventAdoption) {
  // Window 16, 16-token blocks: a prefix of k blocks needs only sliding block k − 1.
  const ModelConfig c = tiny_config(16);
  KvPoolOptions o = tiny_options(16);
  o.max_sequences = 8;
  HostMemory memory;
  KvPool pool(memory, c, sized(c, o, 64));
  const auto prompt = iota_tokens(210);
  {
    SequenceKv a(pool);
    feed(a, prompt, 32);
  }  // every full block of a is cached now, sliding blocks 0..12 in LRU order
  EXPECT_EQ(pool.cached_blocks(0), 13);
  EXPECT_EQ(pool.cached_blocks(1), 13);
  {
    SequenceKv c6(pool);
    EXPECT_EQ(c6.adopt_prefix(std::span(prompt).first(100)), 96);  // takes sliding block 5
    EXPECT_EQ(c6.blocks_held(1), 1);
  }  // block 5 is the most recently used now
  evict_cached(pool, 1, 12);
  EXPECT_EQ(pool.cached_blocks(1), 1);
  SequenceKv b(pool);
  EXPECT_EQ(b.adopt_prefix(std::span(prompt).first(200)), 96);  // shorter: block 11 is gone
  evict_cached(pool, 1, 0);
  SequenceKv e(pool);
  EXPECT_EQ(e.adopt_prefix(std::span(prompt).first(200)), 96);  // b holds block 5
  b.release();
  e.release();
  evict_cached(pool, 1, 1);
  EXPECT_EQ(SequenceKv(pool).adopt_prefix(std::span(prompt).first(200)), 0);  // nothing usable
  pool.check_invariants();

  // Window 128, 32-token blocks: evicting the oldest window blocks stops adoption, since every
  // prefix length needs one of them.
  const ModelConfig c128 = tiny_config(128);
  KvPool pool128(memory, c128, sized(c128, tiny_options(32), 64));
  {
    SequenceKv a(pool128);
    feed(a, prompt, 32);
  }
  SequenceKv full(pool128);
  EXPECT_EQ(full.adopt_prefix(std::span(prompt).first(200)), 192);
  full.release();
  evict_cached(pool128, 1, 3);  // sliding blocks 0, 1, 2
  EXPECT_EQ(SequenceKv(pool128).adopt_prefix(std::span(prompt).first(200)), 0);
  // The full-attention group still has them all; a full-only model would adopt 192.
  EXPECT_EQ(pool128.cached_blocks(0), 6);
  pool128.check_invariants();
}

// Writes (token, position) into every layer's key and (position, token) into its value row.
void write_rows(KvPool& pool, const SequenceKv& s, int32_t from, int32_t to, std::span<const int32_t> tokens) {
  const int bt = pool.block_tokens();
  for (int l = 0; l < 4; ++l) {
    const KvLayerView v = pool.layer(l);
    for (int32_t p = from; p < to; ++p) {
      const int32_t block = s.table(v.group)[static_cast<size_t>(p / bt)];
      const int64_t row = (static_cast<int64_t>(block) * bt + p % bt) * v.kv_width;
      static_cast<float*>(v.keys)[row] = static_cast<float>(tokens[static_cast<size_t>(p - from)]);
      static_cast<float*>(v.keys)[row + 1] = static_cast<float>(p);
      static_cast<float*>(v.values)[row] = static_cast<float>(p);
      static_cast<float*>(v.values)[row + 1] = static_cast<float>(tokens[static_cast<size_t>(p - from)]);
    }
  }
}

// Checks that every position below length that a table still holds has its own row.
void expect_rows(KvPool& pool, const SequenceKv& s) {
  const int bt = pool.block_tokens();
  for (int l = 0; l < 4; ++l) {
    const KvLayerView v = pool.layer(l);
    for (int32_t p = 0; p < s.length(); ++p) {
      const int32_t block = s.table(v.group)[static_cast<size_t>(p / bt)];
      if (block < 0) continue;
      const int64_t row = (static_cast<int64_t>(block) * bt + p % bt) * v.kv_width;
      const auto token = static_cast<float>(s.tokens()[static_cast<size_t>(p)]);
      ASSERT_EQ(static_cast<float*>(v.keys)[row], token) << "layer " << l << " position " << p;
      ASSERT_EQ(static_cast<float*>(v.keys)[row + 1], static_cast<float>(p));
      ASSERT_EQ(static_cast<float*>(v.values)[row], static_cast<float>(p));
      ASSERT_EQ(static_cast<float*>(v.values)[row + 1], token);
    }
  }
}

void step(KvPool& pool, SequenceKv& s, std::span<const int32_t> tokens) {
  const int32_t end = s.length() + static_cast<int32_t>(tokens.size());
  ASSERT_TRUE(s.reserve(end));
  write_rows(pool, s, s.length(), end, tokens);
  s.commit(end, tokens);
}

TEST(SequenceKv, ForkSharesFullBlocksAndCopiesThePartialOne) {
  const ModelConfig c = tiny_config(16);
  HostMemory memory;
  KvPool pool(memory, c, sized(c, tiny_options(16), 32));
  SequenceKv parent(pool);
  const auto tokens = iota_tokens(40);
  step(pool, parent, tokens);
  const auto free_before = pool.free_blocks(0);
  std::optional<SequenceKv> child = parent.fork();
  ASSERT_TRUE(child);
  EXPECT_EQ(pool.free_blocks(0), free_before - 1);
  EXPECT_EQ(child->length(), 40);
  ASSERT_EQ(child->table(0).size(), 3u);
  EXPECT_EQ(child->table(0)[0], parent.table(0)[0]);
  EXPECT_EQ(child->table(0)[1], parent.table(0)[1]);
  EXPECT_EQ(pool.refcount(0, parent.table(0)[1]), 2);
  EXPECT_NE(child->table(0)[2], parent.table(0)[2]);
  EXPECT_NE(child->table(1)[2], parent.table(1)[2]);
  expect_rows(pool, *child);  // the partial block's 8 rows were copied

  step(pool, *child, std::vector<int32_t>(5, 1));
  step(pool, parent, std::vector<int32_t>(5, 2));
  expect_rows(pool, parent);
  expect_rows(pool, *child);

  // Copy on write: going back into a shared block and writing there copies it first.
  EXPECT_FALSE(child->truncate(20));  // would read position 5: block 0 left the window
  ASSERT_TRUE(child->truncate(31));
  EXPECT_THROW(child->commit(32, std::vector<int32_t>{3}), Error);  // block 1 is shared: reserve first
  EXPECT_THROW(parent.commit(parent.length() + 20, std::vector<int32_t>(20, 3)), Error);  // not reserved
  const int32_t shared = parent.table(0)[1];
  EXPECT_EQ(child->table(0)[1], shared);
  EXPECT_EQ(child->blocks_to_reserve(0, 34), 2);  // a copy of block 1, a fresh block 2
  step(pool, *child, std::vector<int32_t>(3, 3));
  EXPECT_NE(child->table(0)[1], shared);
  EXPECT_EQ(pool.refcount(0, shared), 1);
  expect_rows(pool, parent);
  expect_rows(pool, *child);
  child.reset();
  parent.release();
  EXPECT_EQ(pool.free_blocks(0), 32);
  pool.check_invariants();
}

// Random operations over several sequences whose tokens follow a few shared "documents", so that
// prefixes repeat: after each, the pool's bookkeeping must match the tables exactly and every
// held row must hold its own position's data.
TEST(SequenceKv, RandomOperationsKeepTheInvariants) {
  for (int window : {16, 40}) {
    for (int bt : {16, 32}) {
      SCOPED_TRACE("window " + std::to_string(window) + " block_tokens " + std::to_string(bt));
      const ModelConfig c = tiny_config(window);
      KvPoolOptions o = tiny_options(bt);
      o.rollback = 8;
      o.max_sequences = 6;
      o.max_step_tokens = 64;
      HostMemory memory;
      KvPool pool(memory, c, sized(c, o, 640 / bt));  // 640 positions: reserves do fail
      std::mt19937 rng(1234 + window + bt);
      auto uniform = [&](int n) { return static_cast<int>(rng() % static_cast<uint32_t>(n)); };
      std::vector<std::optional<SequenceKv>> seqs(6);
      std::vector<int> doc(6, 0);
      auto next_token = [&](int s, int32_t position) {
        return uniform(20) == 0 ? static_cast<int32_t>(5000 + uniform(3)) : static_cast<int32_t>(doc[static_cast<size_t>(s)] * 1000 + position % 97);
      };
      int failed_reserves = 0, adopted = 0, forks = 0, rejected_truncates = 0;
      for (int op = 0; op < 3000; ++op) {
        const int i = uniform(6);
        auto& s = seqs[static_cast<size_t>(i)];
        const int what = uniform(10);
        if (!s) {
          s.emplace(pool);
          doc[static_cast<size_t>(i)] = uniform(3);
          std::vector<int32_t> prompt;
          const int n = 1 + uniform(150);
          for (int32_t p = 0; p < n; ++p) prompt.push_back(next_token(i, p));
          const int32_t got = s->adopt_prefix(prompt);
          adopted += got > 0;
          ASSERT_LT(got, static_cast<int32_t>(prompt.size()));
          expect_rows(pool, *s);
          const auto rest = std::span<const int32_t>(prompt).subspan(static_cast<size_t>(got));
          if (s->reserve(static_cast<int32_t>(prompt.size()))) step(pool, *s, rest); else ++failed_reserves;
        } else if (what < 6) {
          std::vector<int32_t> tokens;
          const int n = uniform(4) == 0 ? 1 + uniform(60) : 1;
          for (int k = 0; k < n; ++k) tokens.push_back(next_token(i, s->length() + k));
          const auto before = s->table(0);
          const auto free0 = pool.free_blocks(0), free1 = pool.free_blocks(1);
          if (s->reserve(s->length() + n)) {
            step(pool, *s, tokens);
          } else {
            ++failed_reserves;
            ASSERT_EQ(s->table(0), before);
            ASSERT_EQ(pool.free_blocks(0), free0);
            ASSERT_EQ(pool.free_blocks(1), free1);
          }
        } else if (what < 8) {
          const int32_t to = std::max(0, s->length() - uniform(12));
          const auto t0 = s->table(0), t1 = s->table(1);
          const int32_t length = s->length();
          if (!s->truncate(to)) {
            ++rejected_truncates;
            ASSERT_EQ(s->table(0), t0);
            ASSERT_EQ(s->table(1), t1);
            ASSERT_EQ(s->length(), length);
          } else {
            ASSERT_EQ(s->length(), to);
          }
        } else if (what == 8) {
          const int j = uniform(6);
          if (j != i && !seqs[static_cast<size_t>(j)]) {
            auto child = s->fork();
            if (child) {
              seqs[static_cast<size_t>(j)].emplace(std::move(*child));
              doc[static_cast<size_t>(j)] = doc[static_cast<size_t>(i)];
              ++forks;
            }
          }
        } else {
          s.reset();
        }

        pool.check_invariants();
        for (int g = 0; g < pool.groups(); ++g) {
          std::map<int32_t, int> holders;
          for (const auto& q : seqs)
            if (q)
              for (int32_t b : q->table(g))
                if (b >= 0) ++holders[b];
          int64_t used = 0;
          for (int32_t b = 0; b < pool.total_blocks(g); ++b) {
            const auto it = holders.find(b);
            ASSERT_EQ(pool.refcount(g, b), it == holders.end() ? 0 : it->second) << "group " << g << " block " << b;
            used += pool.refcount(g, b) > 0;
          }
          ASSERT_EQ(pool.free_blocks(g) + used, pool.total_blocks(g));
        }
        if (op % 50 == 0)
          for (const auto& q : seqs)
            if (q) expect_rows(pool, *q);
      }
      std::printf("failed reserves %d, adoptions %d, forks %d, rejected truncates %d\n", failed_reserves, adopted, forks,
                  rejected_truncates);
      // The run must have exercised the interesting paths.
      EXPECT_GT(failed_reserves, 0);
      EXPECT_GT(adopted, 0);
      EXPECT_GT(forks, 0);
      EXPECT_GT(rejected_truncates, 0);
      for (auto& q : seqs) q.reset();
      EXPECT_EQ(pool.free_blocks(0), pool.total_blocks(0));
      EXPECT_EQ(pool.free_blocks(1), pool.total_blocks(1));
    }
  }
}

}  // namespace
}  // namespace gptoss
