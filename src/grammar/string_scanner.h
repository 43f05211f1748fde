// The inside of a JSON string, one byte at a time (RFC 8259 §7): any UTF-8 character except
// the control characters U+0000–U+001F, '"' and '\', which must be escaped; the escapes
// \" \\ \/ \b \f \n \r \t and \uXXXX. The bytes must be well-formed UTF-8 (no overlong forms,
// no encoded surrogates, nothing past U+10FFFF), and \u escapes of surrogates must come in
// high-low pairs, so that strict parsers (nlohmann::json among them) accept the text.
#pragma once

#include <cstdint>

namespace gptoss::grammar {

enum class TextState : uint8_t {
  between_characters,
  // UTF-8: continuation bytes still to come; the lead bytes E0, ED, F0 and F4 narrow the range
  // of the first one (against overlong forms, surrogates, and code points past U+10FFFF).
  continuation_1,
  continuation_2,
  continuation_3,
  after_e0,
  after_ed,
  after_f0,
  after_f4,
  // Escapes: after '\'; after "\u" and k hex digits.
  escape,
  unicode_0,
  unicode_1_d,  // the first digit was 'd': a surrogate may follow
  unicode_1,
  unicode_2,
  unicode_3,
  high_surrogate_2,  // "\uD8"–"\uDB": the second half must follow
  high_surrogate_3,
  // The "\uDC00"–"\uDFFF" that must follow a high surrogate.
  pair_escape,
  pair_u,
  pair_0,
  pair_1,
  pair_2,
  pair_3,
};

enum class TextStep : uint8_t {
  rejected,   // not allowed here; the state is unchanged
  closed,     // the closing '"'
  character,  // the first byte of a character (a code point, for length limits)
  continued,  // any other byte of a character
};

TextStep scan_string_byte(TextState& state, unsigned char byte);

}  // namespace gptoss::grammar
