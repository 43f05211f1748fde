// Hugging Face's ByteLevel alphabet (GPT-2's bytes_to_unicode): tokenizer.json writes every byte
// as a printable character. Bytes 0x21..0x7E, 0xA1..0xAC and 0xAE..0xFF stand for themselves; the
// other 68 bytes become U+0100, U+0101, … in byte order (so a space is "Ġ", U+0120).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace gptoss {

// The raw bytes that a byte-level string stands for; nullopt if `text` holds a character outside
// the alphabet (or is not UTF-8).
std::optional<std::string> byte_level_to_bytes(std::string_view text);

}  // namespace gptoss
