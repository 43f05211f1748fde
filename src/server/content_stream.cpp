#include "server/content_stream.h"

#include <algorithm>

namespace gptoss::server {

ContentStream::ContentStream(std::vector<std::string> stop) {
  for (std::string& s : stop)
    if (!s.empty()) stop_.push_back(std::move(s));  // an empty stop string would match at once
}

ContentStream::Released ContentStream::feed(std::string_view text, std::optional<TokenLogprob> token) {
  if (stopped_) return {};
  const size_t begin = released_ + held_.size();
  if (token) tokens_.push_back({begin, begin + text.size(), std::move(*token)});
  held_ += text;

  // Every stop string that could end inside the new text was held back whole, so searching the
  // held text finds each match the first time it is complete; the earliest one ends the content.
  size_t match = std::string::npos;
  for (const std::string& s : stop_) match = std::min(match, held_.find(s));

  Released out;
  if (match != std::string::npos) {
    out.text = held_.substr(0, match);
    released_ += match;
    held_.clear();
    stopped_ = true;
    out.logprobs = release_tokens(/*cut=*/true);
    return out;
  }
  const size_t keep = held_stop_prefix();
  out.text = held_.substr(0, held_.size() - keep);
  held_.erase(0, out.text.size());
  released_ += out.text.size();
  out.logprobs = release_tokens(/*cut=*/false);
  return out;
}

ContentStream::Released ContentStream::flush() {
  Released out;
  if (stopped_) return out;
  out.text = std::move(held_);
  held_.clear();
  released_ += out.text.size();
  out.logprobs = release_tokens(/*cut=*/false);
  // Tokens that brought no text of their own (bytes of a character that never completed).
  for (PendingToken& t : tokens_) out.logprobs.push_back(std::move(t.logprob));
  tokens_.clear();
  return out;
}

// The longest end of the held text that begins some stop string (and is shorter than it: a whole
// one would have matched).
size_t ContentStream::held_stop_prefix() const {
  size_t longest = 0;
  for (const std::string& s : stop_) {
    for (size_t n = std::min(s.size() - 1, held_.size()); n > longest; --n) {
      if (held_.compare(held_.size() - n, n, s, 0, n) == 0) {
        longest = n;
        break;
      }
    }
  }
  return longest;
}

std::vector<TokenLogprob> ContentStream::release_tokens(bool cut) {
  std::vector<TokenLogprob> out;
  while (!tokens_.empty()) {
    const PendingToken& t = tokens_.front();
    // A token without text of its own (part of a character) goes out with the text after it.
    const bool released = cut ? t.begin < released_ : (t.end < released_ || (t.end == released_ && t.begin < t.end));
    if (!released) break;
    out.push_back(std::move(tokens_.front().logprob));
    tokens_.pop_front();
  }
  if (cut) tokens_.clear();
  return out;
}

}  // namespace gptoss::server
