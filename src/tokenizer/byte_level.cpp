#include "tokenizer/byte_level.h"

#include <array>
#include <cstdint>

namespace gptoss {

namespace {

// Code points of the alphabet end at U+0143 (256 + 68 − 1).
constexpr size_t kAlphabetEnd = 256 + 68;

constexpr std::array<int16_t, kAlphabetEnd> make_code_point_to_byte() {
  std::array<int16_t, kAlphabetEnd> table{};
  table.fill(-1);
  int remapped = 0;
  for (int byte = 0; byte < 256; ++byte) {
    const bool printable = (byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE;
    table[static_cast<size_t>(printable ? byte : 256 + remapped++)] = static_cast<int16_t>(byte);
  }
  return table;
}

constexpr auto kCodePointToByte = make_code_point_to_byte();

}  // namespace

std::optional<std::string> byte_level_to_bytes(std::string_view text) {
  std::string bytes;
  bytes.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<uint8_t>(text[i]);
    uint32_t code_point = lead;
    if (lead >= 0x80) {
      // Every code point of the alphabet takes one or two UTF-8 bytes.
      if (lead < 0xC2 || lead > 0xDF || i + 1 == text.size()) return std::nullopt;
      const auto next = static_cast<uint8_t>(text[i + 1]);
      if ((next & 0xC0) != 0x80) return std::nullopt;
      code_point = (static_cast<uint32_t>(lead & 0x1F) << 6) | (next & 0x3F);
      i += 2;
    } else {
      i += 1;
    }
    if (code_point >= kAlphabetEnd || kCodePointToByte[code_point] < 0) return std::nullopt;
    bytes.push_back(static_cast<char>(kCodePointToByte[code_point]));
  }
  return bytes;
}

}  // namespace gptoss
