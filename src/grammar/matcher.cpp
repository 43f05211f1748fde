#include "grammar/matcher.h"

#include <algorithm>
#include <initializer_list>
#include <span>

#include "grammar/string_scanner.h"

namespace gptoss::grammar {

enum class Phase : uint8_t {
  document_before_value,
  document_after_value,
  object_open,          // after '{'
  object_key,           // inside a key's quotes
  object_after_key,
  object_before_value,  // after ':'
  object_after_value,
  object_after_comma,
  array_open,           // after '['
  array_after_item,
  array_after_comma,
  string_body,
  number_minus,
  number_zero,          // a leading 0: no more integer digits
  number_integer,
  number_dot,
  number_fraction,
  number_exponent_mark,
  number_exponent_sign,
  number_exponent,
  literal,
};

struct Frame {
  NodeId node = 0;
  Phase phase = Phase::document_before_value;
  uint8_t whitespace = 0;  // bytes of the whitespace run just read
  TextState text = TextState::between_characters;  // string_body, object_key
  bool key_escaped = false;  // object_key: an escape was written, so only a declared key can match
  // object: the first property the next key may name; array: items started; string: characters
  // written; number: digits in the current part; literal: bytes matched.
  uint32_t count = 0;
  // object_key: bytes written. From object_after_key to the value: the property being written
  // (properties.size() for an additional one).
  uint32_t key = 0;
  // literal: the literals still matching; object_key: the sorted declared keys still matching.
  uint32_t begin = 0, end = 0;

  bool operator==(const Frame&) const = default;
};

namespace {

using Stack = std::span<const Frame>;

bool is_whitespace(unsigned char b) { return b == ' ' || b == '\t' || b == '\n' || b == '\r'; }
bool is_digit(unsigned char b) { return b >= '0' && b <= '9'; }

bool allows_whitespace(Phase phase) {
  switch (phase) {
    case Phase::document_before_value:
    case Phase::document_after_value:
    case Phase::object_open:
    case Phase::object_after_key:
    case Phase::object_before_value:
    case Phase::object_after_value:
    case Phase::object_after_comma:
    case Phase::array_open:
    case Phase::array_after_item:
    case Phase::array_after_comma: return true;
    default: return false;
  }
}

// Whether the value `frame` is writing is whole here and yet could go on (a number; a literal
// that is a prefix of a longer one): the next byte may end it instead. Values that cannot go on
// are popped as soon as they end.
bool may_end_here(const Grammar& grammar, const Frame& frame) {
  switch (frame.phase) {
    case Phase::number_zero:
    case Phase::number_integer:
    case Phase::number_fraction:
    case Phase::number_exponent: return true;
    case Phase::literal: return grammar.node(frame.node).literals[frame.begin].size() == frame.count;
    default: return false;
  }
}

bool literal_finished(const Node& node, const Frame& frame) {
  return frame.end - frame.begin == 1 && node.literals[frame.begin].size() == frame.count;
}

// Which keys an object frame may write next, on a stack of `depth` frames (the object's
// included). Properties are written in their declared order; optional ones may be skipped, up
// to the first required one not yet written. Keys of additional properties come after every
// required one.
class KeyRules {
 public:
  KeyRules(const Grammar& grammar, const ObjectRule& object, uint32_t next, uint32_t depth)
      : grammar_(grammar), object_(object), next_(next), depth_(depth) {}

  bool may_close() const { return object_.next_required[next_] == object_.properties.size(); }
  bool may_name(uint32_t property) const {
    const uint32_t last = std::min(object_.next_required[next_], static_cast<uint32_t>(object_.properties.size()) - 1);
    return property >= next_ && property <= last && grammar_.fits(depth_, object_.properties[property].value);
  }
  bool additional_possible() const { return object_.additional_allowed && may_close() && grammar_.fits(depth_, object_.additional); }
  // Whether one of the sorted declared keys [begin, end) may be written.
  bool declared_possible(uint32_t begin, uint32_t end) const {
    for (uint32_t k = begin; k < end; ++k)
      if (may_name(object_.sorted_key_property[k])) return true;
    return false;
  }
  bool any_key_possible() const {
    return additional_possible() || declared_possible(0, static_cast<uint32_t>(object_.sorted_keys.size()));
  }

 private:
  const Grammar& grammar_;
  const ObjectRule& object_;
  uint32_t next_, depth_;
};

// Appends to a set of stacks every stack that a given one becomes on reading a byte.
class StackWriter {
 public:
  StackWriter(const Grammar& grammar, std::vector<Frame>& frames, std::vector<uint32_t>& ends)
      : grammar_(grammar), frames_(frames), ends_(ends) {}

  void read(Stack stack, unsigned char byte) {
    const Frame& top = stack.back();
    const Stack below = stack.first(stack.size() - 1);
    if (may_end_here(grammar_, top)) read(below, byte);  // the parent reads the byte
    Frame next = top;
    if (allows_whitespace(top.phase)) {
      if (is_whitespace(byte)) {
        if (next.whitespace < kMaxWhitespaceRun) {
          ++next.whitespace;
          emit(below, {next});
        }
        return;
      }
      next.whitespace = 0;
    }
    const Node& node = grammar_.node(top.node);
    switch (node.kind) {
      case NodeKind::document:
        if (top.phase == Phase::document_before_value) {
          next.phase = Phase::document_after_value;
          start_value(below, next, node.value, byte);
        }
        break;
      case NodeKind::object: read_object(below, node.object, next, byte); break;
      case NodeKind::array: read_array(below, node.array, next, byte); break;
      case NodeKind::string: read_string(below, node.string, next, byte); break;
      case NodeKind::number: read_number(below, node.integer, next, byte); break;
      case NodeKind::literals: read_literal(below, node, next, byte); break;
      case NodeKind::choice: break;  // never on a stack: start_value picks an alternative
    }
  }

 private:
  // Appends the stack `below` + `above`, unless it is already in the set or the set is full.
  void emit(Stack below, std::initializer_list<Frame> above) {
    if (ends_.size() >= kMaxStacks) return;
    const size_t start = frames_.size();
    frames_.insert(frames_.end(), below.begin(), below.end());
    frames_.insert(frames_.end(), above);
    const size_t size = frames_.size() - start;
    size_t previous = 0;
    for (const uint32_t end : ends_) {
      if (end - previous == size && std::equal(frames_.begin() + static_cast<ptrdiff_t>(previous),
                                               frames_.begin() + static_cast<ptrdiff_t>(end),
                                               frames_.begin() + static_cast<ptrdiff_t>(start))) {
        frames_.resize(start);
        return;
      }
      previous = end;
    }
    ends_.push_back(static_cast<uint32_t>(frames_.size()));
  }

  // `parent` (already moved past the value) starts a value of `id` with `byte`: one stack per
  // alternative that can start with it and finish within kMaxDepth.
  void start_value(Stack below, const Frame& parent, NodeId id, unsigned char byte) {
    const Node& node = grammar_.node(id);
    if (node.kind != NodeKind::choice) return start_concrete(below, parent, id, byte);
    for (const NodeId alternative : node.alternatives) start_concrete(below, parent, alternative, byte);
  }

  void start_concrete(Stack below, const Frame& parent, NodeId id, unsigned char byte) {
    if (!grammar_.fits(static_cast<uint32_t>(below.size()) + 1, id)) return;
    const Node& node = grammar_.node(id);
    Frame child;
    child.node = id;
    switch (node.kind) {
      case NodeKind::object:
        if (byte != '{') return;
        child.phase = Phase::object_open;
        break;
      case NodeKind::array:
        if (byte != '[') return;
        child.phase = Phase::array_open;
        break;
      case NodeKind::string:
        if (byte != '"') return;
        child.phase = Phase::string_body;
        break;
      case NodeKind::number:
        if (byte == '-') child.phase = Phase::number_minus;
        else if (byte == '0') child.phase = Phase::number_zero;
        else if (is_digit(byte)) child.phase = Phase::number_integer, child.count = 1;
        else return;
        break;
      case NodeKind::literals:
        child.phase = Phase::literal;
        child.end = static_cast<uint32_t>(node.literals.size());
        narrow_by_byte(node.literals, child.begin, child.end, 0, byte);
        if (child.begin == child.end) return;
        child.count = 1;
        if (literal_finished(node, child)) return emit(below, {parent});
        break;
      case NodeKind::document:
      case NodeKind::choice: return;  // not values (choices are flattened away)
    }
    emit(below, {parent, child});
  }

  void read_object(Stack below, const ObjectRule& object, Frame next, unsigned char byte) {
    const auto depth = static_cast<uint32_t>(below.size()) + 1;
    const KeyRules keys(grammar_, object, next.count, depth);
    const auto property_count = static_cast<uint32_t>(object.properties.size());
    switch (next.phase) {
      case Phase::object_open:
      case Phase::object_after_comma:
        if (byte == '"' && keys.any_key_possible()) {
          next.phase = Phase::object_key;
          next.key = 0;
          next.begin = 0;
          next.end = static_cast<uint32_t>(object.sorted_keys.size());
          return emit(below, {next});
        }
        if (byte == '}' && next.phase == Phase::object_open && keys.may_close()) return emit(below, {});
        return;
      case Phase::object_key: {
        const TextStep step = scan_string_byte(next.text, byte);
        if (step == TextStep::rejected) return;
        if (step == TextStep::closed) {
          const bool declared = next.begin < next.end && object.sorted_keys[next.begin].size() == next.key;
          if (declared) {
            // A declared key out of its place is not an additional key either (it would repeat
            // or misplace a property), so it is refused.
            const uint32_t property = object.sorted_key_property[next.begin];
            if (!keys.may_name(property)) return;
            next.key = property;
          } else {
            if (next.key_escaped || !keys.additional_possible()) return;
            next.key = property_count;
          }
          next.phase = Phase::object_after_key;
          next.begin = next.end = 0;
          next.key_escaped = false;
          return emit(below, {next});
        }
        // Additional keys are written without escapes, so that they can be told apart from the
        // declared ones byte by byte.
        if (byte == '\\' && step == TextStep::character) next.key_escaped = true;
        narrow_by_byte(object.sorted_keys, next.begin, next.end, next.key, byte);
        ++next.key;
        if ((next.key_escaped || !keys.additional_possible()) && !keys.declared_possible(next.begin, next.end)) return;
        return emit(below, {next});
      }
      case Phase::object_after_key:
        if (byte == ':') {
          next.phase = Phase::object_before_value;
          emit(below, {next});
        }
        return;
      case Phase::object_before_value: {
        const bool additional = next.key == property_count;
        const NodeId value = additional ? object.additional : object.properties[next.key].value;
        next.phase = Phase::object_after_value;
        next.count = additional ? property_count : next.key + 1;
        next.key = 0;
        return start_value(below, next, value, byte);
      }
      case Phase::object_after_value:
        if (byte == ',' && keys.any_key_possible()) {
          next.phase = Phase::object_after_comma;
          return emit(below, {next});
        }
        if (byte == '}' && keys.may_close()) emit(below, {});
        return;
      default: return;
    }
  }

  // The rule of item `index`, or nothing when the array cannot have that many items.
  static std::optional<NodeId> item_rule(const ArrayRule& array, uint32_t index) {
    if (index >= array.max_items) return std::nullopt;
    if (index < array.prefix_items.size()) return array.prefix_items[index];
    if (array.more_items_allowed) return array.items;
    return std::nullopt;
  }

  void read_array(Stack below, const ArrayRule& array, Frame next, unsigned char byte) {
    const auto depth = static_cast<uint32_t>(below.size()) + 1;
    const std::optional<NodeId> item = item_rule(array, next.count);
    switch (next.phase) {
      case Phase::array_open:
        if (byte == ']' && array.min_items == 0) return emit(below, {});
        [[fallthrough]];
      case Phase::array_after_comma:
        if (item) {
          next.phase = Phase::array_after_item;
          ++next.count;
          start_value(below, next, *item, byte);
        }
        return;
      case Phase::array_after_item:
        if (byte == ',' && item && grammar_.fits(depth, *item)) {
          next.phase = Phase::array_after_comma;
          return emit(below, {next});
        }
        if (byte == ']' && next.count >= array.min_items) emit(below, {});
        return;
      default: return;
    }
  }

  void read_string(Stack below, const StringRule& rule, Frame next, unsigned char byte) {
    switch (scan_string_byte(next.text, byte)) {
      case TextStep::rejected: return;
      case TextStep::closed:
        if (next.count >= rule.min_length) emit(below, {});
        return;
      case TextStep::character:
        if (next.count >= rule.max_length) return;
        ++next.count;
        break;
      case TextStep::continued: break;
    }
    emit(below, {next});
  }

  // RFC 8259 §6: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  void read_number(Stack below, bool integer, Frame next, unsigned char byte) {
    const auto to = [&](Phase phase, uint32_t count) {
      next.phase = phase;
      next.count = count;
      emit(below, {next});
    };
    const bool digit = is_digit(byte);
    const bool fraction_mark = !integer && byte == '.';
    const bool exponent_mark = !integer && (byte == 'e' || byte == 'E');
    switch (next.phase) {
      case Phase::number_minus:
        if (byte == '0') to(Phase::number_zero, 0);
        else if (digit) to(Phase::number_integer, 1);
        return;
      case Phase::number_zero:
      case Phase::number_integer:
        if (digit && next.phase == Phase::number_integer && next.count < kMaxIntegerDigits) to(Phase::number_integer, next.count + 1);
        else if (fraction_mark) to(Phase::number_dot, 0);
        else if (exponent_mark) to(Phase::number_exponent_mark, 0);
        return;
      case Phase::number_dot:
        if (digit) to(Phase::number_fraction, 1);
        return;
      case Phase::number_fraction:
        if (digit && next.count < kMaxFractionDigits) to(Phase::number_fraction, next.count + 1);
        else if (exponent_mark) to(Phase::number_exponent_mark, 0);
        return;
      case Phase::number_exponent_mark:
        if (byte == '+' || byte == '-') to(Phase::number_exponent_sign, 0);
        else if (digit) to(Phase::number_exponent, 1);
        return;
      case Phase::number_exponent_sign:
        if (digit) to(Phase::number_exponent, 1);
        return;
      case Phase::number_exponent:
        if (digit && next.count < kMaxExponentDigits) to(Phase::number_exponent, next.count + 1);
        return;
      default: return;
    }
  }

  void read_literal(Stack below, const Node& node, Frame next, unsigned char byte) {
    narrow_by_byte(node.literals, next.begin, next.end, next.count, byte);
    if (next.begin == next.end) return;
    ++next.count;
    if (literal_finished(node, next)) return emit(below, {});
    emit(below, {next});
  }

  const Grammar& grammar_;
  std::vector<Frame>& frames_;
  std::vector<uint32_t>& ends_;
};

}  // namespace

Matcher::Matcher(const Grammar& grammar) : grammar_(&grammar) {
  Frame document;
  document.node = grammar.root();
  frames_.push_back(document);
  stack_ends_.push_back(1);
}

Matcher::Matcher(const Matcher&) = default;
Matcher::Matcher(Matcher&&) noexcept = default;
Matcher& Matcher::operator=(const Matcher&) = default;
Matcher& Matcher::operator=(Matcher&&) noexcept = default;
Matcher::~Matcher() = default;

bool Matcher::advance(unsigned char byte) {
  Matcher next(*this);
  if (!next.advance_from(*this, byte)) return false;
  *this = std::move(next);
  return true;
}

bool Matcher::advance_from(const Matcher& from, unsigned char byte) {
  if (&from == this) return advance(byte);
  grammar_ = from.grammar_;
  frames_.clear();
  stack_ends_.clear();
  StackWriter writer(*grammar_, frames_, stack_ends_);
  uint32_t begin = 0;
  for (const uint32_t end : from.stack_ends_) {
    writer.read(Stack(from.frames_.data() + begin, end - begin), byte);
    begin = end;
  }
  return !stack_ends_.empty();
}

bool Matcher::complete() const {
  uint32_t begin = 0;
  for (const uint32_t end : stack_ends_) {
    const Frame& top = frames_[end - 1];
    const Frame& bottom = frames_[begin];
    const uint32_t size = end - begin;
    if (bottom.phase == Phase::document_after_value &&
        (size == 1 || (size == 2 && may_end_here(*grammar_, top))))
      return true;
    begin = end;
  }
  return false;
}

Matcher Matcher::only_stack(size_t index) const {
  Matcher one(*grammar_);
  const uint32_t begin = index == 0 ? 0 : stack_ends_[index - 1];
  one.frames_.assign(frames_.begin() + begin, frames_.begin() + stack_ends_[index]);
  one.stack_ends_.assign(1, stack_ends_[index] - begin);
  return one;
}

std::optional<uint32_t> Matcher::plain_text_budget(size_t index) const {
  const uint32_t begin = index == 0 ? 0 : stack_ends_[index - 1];
  const uint32_t depth = stack_ends_[index] - begin;
  const Frame& top = frames_[stack_ends_[index] - 1];
  if (top.text != TextState::between_characters) return std::nullopt;
  const Node& node = grammar_->node(top.node);
  if (top.phase == Phase::string_body) {
    const uint32_t max = node.string.max_length;
    return max == kUnbounded ? kUnbounded : max - top.count;
  }
  if (top.phase == Phase::object_key && !top.key_escaped &&
      KeyRules(*grammar_, node.object, top.count, depth).additional_possible())
    return kUnbounded;
  return std::nullopt;
}

}  // namespace gptoss::grammar
