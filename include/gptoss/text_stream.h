// Generated tokens → displayable text, as they come. With harmony, each message's content is
// tagged with its channel (analysis, commentary, final). Without harmony — or from the moment
// the model's output stops following it, as the random-weight test model's does — it is the
// plain decoded text of everything generated.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gptoss/harmony.h"
#include "gptoss/tokenizer.h"

namespace gptoss {

class TextStream {
 public:
  TextStream(const Tokenizer& tokenizer, bool harmony);

  struct Delta {
    std::string channel;       // the message's channel; empty for plain text
    std::string recipient;     // a tool call's recipient ("functions.get_weather"), else empty
    std::string text;          // new text (whole UTF-8 characters)
    bool message_start = false;  // text begins a new message (its header is known now)
    bool fell_back = false;      // harmony broke here: text is all the output so far, as plain text
  };
  Delta feed(int32_t token);
  // The end of the output: what an unfinished UTF-8 character left over (U+FFFD), or — when the
  // output ended before its first harmony header was complete — all of it as plain text.
  Delta finish();

  bool harmony() const { return harmony_; }  // false once fallen back
  const std::string& harmony_error() const { return parser_.error(); }  // empty if it broke by a too long header
  // The completed harmony messages so far.
  const std::vector<harmony::Message>& messages() const { return parser_.messages(); }

 private:
  Delta fall_back();

  bool harmony_;
  harmony::Parser parser_;
  StreamingDecoder decoder_;
  std::vector<int32_t> tokens_;
  int header_tokens_ = 0;  // tokens of the header being read
};

}  // namespace gptoss
