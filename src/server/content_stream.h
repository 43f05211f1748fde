// The answer's content on its way to the client: text that may be the beginning of a stop string
// is held back until the next text shows whether it is; once a stop string appears the content
// ends where it begins. Each token's logprob goes out with the last of its text, so that a
// client never sees the logprob of a token whose text it has not seen.
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/output_assembler.h"

namespace gptoss::server {

class ContentStream {
 public:
  explicit ContentStream(std::vector<std::string> stop);

  struct Released {
    std::string text;
    std::vector<TokenLogprob> logprobs;
    bool empty() const { return text.empty() && logprobs.empty(); }
  };
  // `text` continues the content; `token`, when logprobs are reported, is the token it came from.
  Released feed(std::string_view text, std::optional<TokenLogprob> token);
  // Everything held: the content can no longer run into a stop string (its message ended).
  Released flush();
  // A stop string was found; feed() releases nothing more.
  bool stopped() const { return stopped_; }

 private:
  struct PendingToken {
    size_t begin, end;  // its text's byte range in all the text fed
    TokenLogprob logprob;
  };
  size_t held_stop_prefix() const;
  // Released text's tokens: those whose text ends before `released_`; with `cut`, those whose
  // text begins before it (the tokens straddling a stop string), and the rest are dropped.
  std::vector<TokenLogprob> release_tokens(bool cut);

  std::vector<std::string> stop_;
  std::string held_;       // text fed but not released
  size_t released_ = 0;    // bytes released so far
  std::deque<PendingToken> tokens_;
  bool stopped_ = false;
};

}  // namespace gptoss::server
