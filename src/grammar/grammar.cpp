#include "grammar/grammar.h"

#include <algorithm>

namespace gptoss::grammar {
namespace {

// The concrete (non-choice) nodes a choice stands for, following choices inside choices; a cycle
// of choices (a $ref to itself) adds nothing.
void collect_alternatives(const std::vector<Node>& nodes, NodeId id, std::vector<bool>& visited,
                          std::vector<NodeId>& out) {
  if (visited[id]) return;
  visited[id] = true;
  if (nodes[id].kind != NodeKind::choice) {
    out.push_back(id);
    return;
  }
  for (const NodeId alternative : nodes[id].alternatives) collect_alternatives(nodes, alternative, visited, out);
}

void flatten_choices(std::vector<Node>& nodes) {
  std::vector<bool> visited(nodes.size());
  for (Node& node : nodes) {
    if (node.kind != NodeKind::choice) continue;
    std::fill(visited.begin(), visited.end(), false);
    std::vector<NodeId> concrete;
    for (const NodeId alternative : node.alternatives) collect_alternatives(nodes, alternative, visited, concrete);
    node.alternatives = std::move(concrete);
  }
}

// The depth of a node whose deepest required child needs `deepest_child` frames, or kNoValue.
uint32_t one_above(uint32_t deepest_child) {
  if (deepest_child == kNoValue || deepest_child + 1 > kMaxDepth) return kNoValue;
  return deepest_child + 1;
}

NodeId array_item(const ArrayRule& array, uint32_t index) {
  return index < array.prefix_items.size() ? array.prefix_items[index] : array.items;
}

uint32_t min_depth_of(const std::vector<Node>& nodes, const Node& node) {
  switch (node.kind) {
    case NodeKind::document: return one_above(nodes[node.value].min_depth);
    case NodeKind::choice: {
      uint32_t best = kNoValue;
      for (const NodeId alternative : node.alternatives) best = std::min(best, nodes[alternative].min_depth);
      return best;
    }
    case NodeKind::object: {
      uint32_t deepest = 0;
      for (const Property& property : node.object.properties)
        if (property.required) deepest = std::max(deepest, nodes[property.value].min_depth);
      return one_above(deepest);
    }
    case NodeKind::array: {
      const ArrayRule& array = node.array;
      if (array.min_items > array.max_items) return kNoValue;
      if (!array.more_items_allowed && array.min_items > array.prefix_items.size()) return kNoValue;
      uint32_t deepest = 0;
      // Items past the prefix share one rule, so looking at one of them is enough.
      const uint32_t distinct = std::min<uint32_t>(array.min_items, static_cast<uint32_t>(array.prefix_items.size()) + 1);
      for (uint32_t i = 0; i < distinct; ++i) deepest = std::max(deepest, nodes[array_item(array, i)].min_depth);
      return one_above(deepest);
    }
    case NodeKind::string: return node.string.min_length <= node.string.max_length ? 1 : kNoValue;
    case NodeKind::number: return 1;
    case NodeKind::literals: return node.literals.empty() ? kNoValue : 1;
  }
  return kNoValue;
}

// The least fixpoint of min_depth_of, from "no value" everywhere: recursive rules get the depth
// of their shallowest finite value. Every value lies in [1, kMaxDepth] or is kNoValue and only
// ever decreases, so this ends.
void compute_min_depths(std::vector<Node>& nodes) {
  for (Node& node : nodes) node.min_depth = kNoValue;
  for (bool changed = true; changed;) {
    changed = false;
    for (Node& node : nodes) {
      const uint32_t depth = min_depth_of(nodes, node);
      if (depth < node.min_depth) {
        node.min_depth = depth;
        changed = true;
      }
    }
  }
}

// Drops what can never be written, so that the matcher never starts something it cannot finish.
void drop_impossible(std::vector<Node>& nodes) {
  const auto possible = [&](NodeId id) { return nodes[id].min_depth != kNoValue; };
  for (Node& node : nodes) {
    switch (node.kind) {
      case NodeKind::choice: std::erase_if(node.alternatives, [&](NodeId id) { return !possible(id); }); break;
      case NodeKind::object:
        // A required property that admits no value makes the whole object impossible instead.
        std::erase_if(node.object.properties, [&](const Property& p) { return !p.required && !possible(p.value); });
        if (node.object.additional_allowed && !possible(node.object.additional)) node.object.additional_allowed = false;
        break;
      case NodeKind::array: {
        ArrayRule& array = node.array;
        for (uint32_t i = 0; i < array.prefix_items.size(); ++i) {
          if (possible(array.prefix_items[i])) continue;
          array.max_items = std::min(array.max_items, i);
          array.prefix_items.resize(i);
          array.more_items_allowed = false;
        }
        if (array.more_items_allowed && !possible(array.items)) array.more_items_allowed = false;
        if (!array.more_items_allowed)
          array.max_items = std::min(array.max_items, static_cast<uint32_t>(array.prefix_items.size()));
        break;
      }
      default: break;
    }
  }
}

void index_keys(ObjectRule& object) {
  const auto count = static_cast<uint32_t>(object.properties.size());
  std::vector<uint32_t> order(count);
  for (uint32_t i = 0; i < count; ++i) order[i] = i;
  std::sort(order.begin(), order.end(),
            [&](uint32_t a, uint32_t b) { return object.properties[a].key < object.properties[b].key; });
  object.sorted_keys.clear();
  for (const uint32_t i : order) object.sorted_keys.push_back(object.properties[i].key);
  object.sorted_key_property = std::move(order);
  object.next_required.assign(count + 1, count);
  for (uint32_t i = count; i-- > 0;)
    object.next_required[i] = object.properties[i].required ? i : object.next_required[i + 1];
}

}  // namespace

Grammar::Grammar(std::vector<Node> nodes, NodeId root) : nodes_(std::move(nodes)), root_(root) {
  for (Node& node : nodes_) {
    std::sort(node.literals.begin(), node.literals.end());
    node.literals.erase(std::unique(node.literals.begin(), node.literals.end()), node.literals.end());
  }
  flatten_choices(nodes_);
  compute_min_depths(nodes_);
  drop_impossible(nodes_);
  for (Node& node : nodes_)
    if (node.kind == NodeKind::object) index_keys(node.object);
}

void narrow_by_byte(const std::vector<std::string>& sorted, uint32_t& begin, uint32_t& end, uint32_t position,
                    unsigned char byte) {
  // The byte after the shared prefix, -1 for a string that ends there: non-decreasing along the
  // range, because the strings are sorted.
  const auto next_byte = [&](uint32_t i) {
    const std::string& s = sorted[i];
    return s.size() > position ? static_cast<int>(static_cast<unsigned char>(s[position])) : -1;
  };
  // The first index in [low, high) whose next byte exceeds `limit`.
  const auto first_above = [&](uint32_t low, uint32_t high, int limit) {
    while (low < high) {
      const uint32_t mid = low + (high - low) / 2;
      if (next_byte(mid) <= limit) low = mid + 1;
      else high = mid;
    }
    return low;
  };
  begin = first_above(begin, end, static_cast<int>(byte) - 1);
  end = first_above(begin, end, byte);
}

}  // namespace gptoss::grammar
