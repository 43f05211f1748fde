#include "tokenizer/utf8.h"

#include <cstdint>

namespace gptoss {

namespace {
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD
}

Utf8Sequence next_utf8_sequence(std::string_view bytes) {
  const auto lead = static_cast<uint8_t>(bytes[0]);
  if (lead < 0x80) return {Utf8Sequence::Kind::valid, 1};
  // Length of the character and the allowed range of its second byte (later bytes: 80..BF).
  size_t length = 0;
  uint8_t low = 0x80, high = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;   // no overlong forms
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;   // no overlong forms
    if (lead == 0xF4) high = 0x8F;  // nothing above U+10FFFF
  } else {
    return {Utf8Sequence::Kind::invalid, 1};
  }
  for (size_t i = 1; i < length; ++i) {
    if (i == bytes.size()) return {Utf8Sequence::Kind::incomplete, i};
    const auto byte = static_cast<uint8_t>(bytes[i]);
    if (byte < (i == 1 ? low : 0x80) || byte > (i == 1 ? high : 0xBF)) return {Utf8Sequence::Kind::invalid, i};
  }
  return {Utf8Sequence::Kind::valid, length};
}

size_t append_utf8_lossy(std::string_view bytes, std::string& out, bool final) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    const Utf8Sequence seq = next_utf8_sequence(bytes.substr(pos));
    switch (seq.kind) {
      case Utf8Sequence::Kind::valid:
        out.append(bytes.substr(pos, seq.length));
        break;
      case Utf8Sequence::Kind::incomplete:
        if (!final) return pos;
        out.append(kReplacement);
        break;
      case Utf8Sequence::Kind::invalid:
        out.append(kReplacement);
        break;
    }
    pos += seq.length;
  }
  return pos;
}

}  // namespace gptoss
