// UTF-8 structure for streaming decode and lossy conversion: where a character ends, whether a
// tail is the start of one still to come, and what to replace when bytes can never form one.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gptoss {

struct Utf8Sequence {
  enum class Kind {
    valid,       // a whole character of `length` bytes
    incomplete,  // all `length` bytes given are a proper prefix of a character
    invalid,     // `length` bytes (a "maximal subpart", Unicode §3.9) that no character starts with
  };
  Kind kind;
  size_t length;
};

// The sequence at the start of non-empty `bytes` (Unicode Table 3-7 well-formed byte ranges).
Utf8Sequence next_utf8_sequence(std::string_view bytes);

// Appends `bytes` to `out` as valid UTF-8: each invalid maximal subpart becomes one U+FFFD, as in
// Rust's String::from_utf8_lossy (so Hugging Face's decode). A trailing incomplete character is
// left unconsumed unless `final`, where it is replaced too. Returns the number of bytes consumed.
size_t append_utf8_lossy(std::string_view bytes, std::string& out, bool final);

}  // namespace gptoss
