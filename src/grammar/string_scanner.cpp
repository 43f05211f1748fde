#include "grammar/string_scanner.h"

namespace gptoss::grammar {
namespace {

bool is_hex(unsigned char b) { return (b >= '0' && b <= '9') || (b >= 'a' && b <= 'f') || (b >= 'A' && b <= 'F'); }
bool in(unsigned char b, unsigned char low, unsigned char high) { return b >= low && b <= high; }

// The byte after a lead byte, by the lead byte (RFC 3629 §4).
TextStep lead_byte(TextState& state, unsigned char b) {
  if (b < 0xC2) return TextStep::rejected;  // a continuation byte, or C0/C1 (overlong)
  if (b < 0xE0) state = TextState::continuation_1;
  else if (b == 0xE0) state = TextState::after_e0;
  else if (b == 0xED) state = TextState::after_ed;
  else if (b < 0xF0) state = TextState::continuation_2;
  else if (b == 0xF0) state = TextState::after_f0;
  else if (b < 0xF4) state = TextState::continuation_3;
  else if (b == 0xF4) state = TextState::after_f4;
  else return TextStep::rejected;
  return TextStep::character;
}

}  // namespace

TextStep scan_string_byte(TextState& state, unsigned char b) {
  using S = TextState;
  // Moves to `next` when `allowed`.
  const auto step = [&](bool allowed, S next) {
    if (!allowed) return TextStep::rejected;
    state = next;
    return TextStep::continued;
  };
  switch (state) {
    case S::between_characters:
      if (b == '"') return TextStep::closed;
      if (b == '\\') {
        state = S::escape;
        return TextStep::character;  // an escape is one character
      }
      if (b < 0x20) return TextStep::rejected;
      if (b < 0x80) return TextStep::character;
      return lead_byte(state, b);
    case S::continuation_1: return step(in(b, 0x80, 0xBF), S::between_characters);
    case S::continuation_2: return step(in(b, 0x80, 0xBF), S::continuation_1);
    case S::continuation_3: return step(in(b, 0x80, 0xBF), S::continuation_2);
    case S::after_e0: return step(in(b, 0xA0, 0xBF), S::continuation_1);
    case S::after_ed: return step(in(b, 0x80, 0x9F), S::continuation_1);
    case S::after_f0: return step(in(b, 0x90, 0xBF), S::continuation_2);
    case S::after_f4: return step(in(b, 0x80, 0x8F), S::continuation_2);
    case S::escape:
      if (b == 'u') return step(true, S::unicode_0);
      return step(b == '"' || b == '\\' || b == '/' || b == 'b' || b == 'f' || b == 'n' || b == 'r' || b == 't',
                  S::between_characters);
    case S::unicode_0: return step(is_hex(b), b == 'd' || b == 'D' ? S::unicode_1_d : S::unicode_1);
    case S::unicode_1_d:
      // D800–DBFF opens a surrogate pair; DC00–DFFF alone is not a character.
      if (in(b, '8', '9') || in(b, 'a', 'b') || in(b, 'A', 'B')) return step(true, S::high_surrogate_2);
      return step(in(b, '0', '7'), S::unicode_2);
    case S::unicode_1: return step(is_hex(b), S::unicode_2);
    case S::unicode_2: return step(is_hex(b), S::unicode_3);
    case S::unicode_3: return step(is_hex(b), S::between_characters);
    case S::high_surrogate_2: return step(is_hex(b), S::high_surrogate_3);
    case S::high_surrogate_3: return step(is_hex(b), S::pair_escape);
    case S::pair_escape: return step(b == '\\', S::pair_u);
    case S::pair_u: return step(b == 'u', S::pair_0);
    case S::pair_0: return step(b == 'd' || b == 'D', S::pair_1);
    case S::pair_1: return step(in(b, 'c', 'f') || in(b, 'C', 'F'), S::pair_2);
    case S::pair_2: return step(is_hex(b), S::pair_3);
    case S::pair_3: return step(is_hex(b), S::between_characters);
  }
  return TextStep::rejected;
}

}  // namespace gptoss::grammar
