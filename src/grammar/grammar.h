// The compiled form of a JSON Schema: a set of rules ("nodes"), one per kind of JSON value the
// schema allows at some position, which the Matcher runs byte by byte. The compiler
// (json_schema.h) builds the nodes; the Grammar's constructor links them: it resolves choices of
// choices (anyOf inside anyOf, $ref chains) into flat lists of concrete alternatives and computes
// how deep each rule must nest to write a value, which also tells the rules that admit no value
// at all (they are dropped wherever they are optional).
//
// A Grammar is immutable once built and may be shared by any number of matchers and threads.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace gptoss::grammar {

using NodeId = uint32_t;

inline constexpr uint32_t kUnbounded = std::numeric_limits<uint32_t>::max();
// Frames a matcher's stack may hold (the document's frame included): a recursive schema nests
// at most this deep, so matching never overflows and every state it reaches can still finish
// within the bound.
inline constexpr uint32_t kMaxDepth = 64;
// min_depth of a node that admits no value.
inline constexpr uint32_t kNoValue = std::numeric_limits<uint32_t>::max();

enum class NodeKind : uint8_t {
  document,  // the whole text: optional whitespace, one value (`value`), optional whitespace
  choice,    // any of `alternatives` (anyOf, oneOf, a list of types, a $ref)
  object,
  array,
  string,
  number,    // `integer`: no fraction, no exponent
  literals,  // one of `literals`, byte for byte (enum, const, true, false, null)
};

struct Property {
  std::string key;  // as written between the quotes: JSON-escaped
  NodeId value = 0;
  bool required = false;
};

struct ObjectRule {
  std::vector<Property> properties;  // in the order they are written
  bool additional_allowed = false;   // keys other than the declared ones, after them
  NodeId additional = 0;             // their values
  // Linked: the declared keys sorted bytewise, with the index of each one's property, for
  // matching a key as it is written; and for each i the first required property at or after i
  // (properties.size() when none), which bounds how far ahead a key may skip.
  std::vector<std::string> sorted_keys;
  std::vector<uint32_t> sorted_key_property;
  std::vector<uint32_t> next_required;
};

struct ArrayRule {
  std::vector<NodeId> prefix_items;  // the first items, one rule each
  bool more_items_allowed = true;    // items after the prefix
  NodeId items = 0;                  // their rule
  uint32_t min_items = 0;
  uint32_t max_items = kUnbounded;
};

struct StringRule {
  uint32_t min_length = 0;  // in code points (a surrogate-pair escape is one)
  uint32_t max_length = kUnbounded;
};

struct Node {
  NodeKind kind = NodeKind::choice;
  NodeId value = 0;                   // document
  std::vector<NodeId> alternatives;   // choice; linked: only concrete kinds, each admitting a value
  ObjectRule object;
  ArrayRule array;
  StringRule string;
  bool integer = false;               // number
  std::vector<std::string> literals;  // linked: sorted, distinct
  // Linked: how many stack frames writing a value of this node needs at least, its own
  // included (a choice: its cheapest alternative's); kNoValue when it admits no value.
  uint32_t min_depth = kNoValue;
};

class Grammar {
 public:
  // Links `nodes` (see above). `root` is the document node.
  Grammar(std::vector<Node> nodes, NodeId root);

  const Node& node(NodeId id) const { return nodes_[id]; }
  NodeId root() const { return root_; }
  // Whether some document can be written at all within kMaxDepth.
  bool admits_a_value() const { return nodes_[root_].min_depth <= kMaxDepth; }
  // Whether a value of `id` can be started on a stack of `depth` frames and still finish.
  bool fits(uint32_t depth, NodeId id) const {
    const uint32_t need = nodes_[id].min_depth;
    return need != kNoValue && depth + need <= kMaxDepth;
  }

 private:
  std::vector<Node> nodes_;
  NodeId root_;
};

// The candidates of a sorted list of byte strings that share their first `position` bytes, cut
// to those whose next byte is `byte`: [begin, end) of `sorted`, narrowed in place. Strings that
// end at `position` sort first and are dropped.
void narrow_by_byte(const std::vector<std::string>& sorted, uint32_t& begin, uint32_t& end, uint32_t position,
                    unsigned char byte);

}  // namespace gptoss::grammar
