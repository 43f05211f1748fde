#include "tokenizer/bpe.h"

#include <algorithm>

#include "gptoss/error.h"

namespace gptoss {

namespace {

// Heap order of candidate merges: lowest rank first, then leftmost (Hugging Face's `Merge` order).
bool later(const BpeModel::Scratch::Candidate& a, const BpeModel::Scratch::Candidate& b) {
  return a.rank != b.rank ? a.rank > b.rank : a.position > b.position;
}

}  // namespace

BpeModel::BpeModel(std::vector<std::pair<std::string, int32_t>> vocab,
                   const std::vector<std::pair<std::string, std::string>>& merges, bool ignore_merges,
                   const std::string& origin)
    : tokens_(std::move(vocab)), ids_(tokens_), merges_(merges.size()), ignore_merges_(ignore_merges) {
  if (const auto index = ids_.duplicate())
    throw Error(origin + ": model.vocab lists the token of id " + std::to_string(tokens_[*index].second) + " twice");
  for (const auto& [bytes, id] : tokens_)
    if (bytes.empty()) throw Error(origin + ": model.vocab has an empty token (id " + std::to_string(id) + ")");
  for (int byte = 0; byte < 256; ++byte) {
    const auto id = find(std::string(1, static_cast<char>(byte)));
    if (!id) throw Error(origin + ": model.vocab has no token for byte " + std::to_string(byte));
    byte_ids_[static_cast<size_t>(byte)] = *id;
  }
  for (size_t rank = 0; rank < merges.size(); ++rank) {
    const auto& [left, right] = merges[rank];
    const auto left_id = find(left), right_id = find(right), merged_id = find(left + right);
    if (!left_id || !right_id || !merged_id)
      throw Error(origin + ": model.merges entry " + std::to_string(rank) + ": the " +
                  (!left_id ? "left token" : !right_id ? "right token" : "merged token") + " is not in model.vocab");
    // A pair listed twice keeps its last rank, as in Hugging Face's merge map.
    merges_.insert_or_assign(*left_id, *right_id, {static_cast<int32_t>(rank), *merged_id});
  }
}

std::optional<int32_t> BpeModel::find(std::string_view bytes) const { return ids_.find(bytes); }

void BpeModel::encode(std::string_view piece, std::vector<int32_t>& out, Scratch& scratch) const {
  if (piece.empty()) return;
  if (ignore_merges_) {
    if (const auto id = find(piece)) {
      out.push_back(*id);
      return;
    }
  }
  const bool cacheable = piece.size() <= kMaxCachedPiece;
  if (cacheable) {
    const std::lock_guard lock(cache_mutex_);
    const auto it = cache_.find(piece);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t start = out.size();
  merge(piece, out, scratch);
  if (cacheable) {
    const std::lock_guard lock(cache_mutex_);
    // Bounded: start afresh when full, so the cache follows what is being encoded now.
    if (cache_.size() >= kCacheCapacity) cache_.clear();
    cache_.emplace(piece, std::vector<int32_t>(out.begin() + static_cast<ptrdiff_t>(start), out.end()));
  }
}

// Hugging Face's Word::merge_all: a heap of candidate merges by (rank, position); a candidate is
// stale when its left symbol was merged away or its pair no longer yields the same token.
void BpeModel::merge(std::string_view piece, std::vector<int32_t>& out, Scratch& scratch) const {
  auto& symbols = scratch.symbols;
  auto& heap = scratch.heap;
  symbols.clear();
  heap.clear();
  const auto n = static_cast<int32_t>(piece.size());
  for (int32_t i = 0; i < n; ++i)
    symbols.push_back({byte_ids_[static_cast<uint8_t>(piece[static_cast<size_t>(i)])], i - 1, i + 1 < n ? i + 1 : -1, false});
  const auto push = [&](int32_t position) {
    const Scratch::Symbol& left = symbols[static_cast<size_t>(position)];
    if (const BpeMerge* m = merges_.find(left.id, symbols[static_cast<size_t>(left.next)].id)) {
      heap.push_back({m->rank, position, m->merged_id});
      std::push_heap(heap.begin(), heap.end(), later);
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) push(i);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const Scratch::Candidate top = heap.back();
    heap.pop_back();
    Scratch::Symbol& left = symbols[static_cast<size_t>(top.position)];
    if (left.merged_away || left.next < 0) continue;
    Scratch::Symbol& right = symbols[static_cast<size_t>(left.next)];
    const BpeMerge* current = merges_.find(left.id, right.id);
    if (current == nullptr || current->merged_id != top.merged_id) continue;
    left.id = top.merged_id;
    right.merged_away = true;
    left.next = right.next;
    if (left.next >= 0) symbols[static_cast<size_t>(left.next)].prev = top.position;
    if (left.prev >= 0) push(left.prev);
    if (left.next >= 0) push(top.position);
  }
  for (int32_t i = 0; i >= 0; i = symbols[static_cast<size_t>(i)].next) out.push_back(symbols[static_cast<size_t>(i)].id);
}

}  // namespace gptoss
