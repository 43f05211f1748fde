#include "eval/windows.h"

#include <algorithm>
#include <string>

#include "gptoss/error.h"

namespace gptoss {

void check_strided_windows(int64_t window, int64_t stride) {
  if (window < 2) throw Error("window " + std::to_string(window) + ": a window needs at least 2 tokens");
  if (stride < 1 || stride > window)
    throw Error("stride " + std::to_string(stride) + ": must be between 1 and the window (" + std::to_string(window) +
                ")");
}

std::vector<Window> strided_windows(int64_t tokens, int64_t window, int64_t stride) {
  check_strided_windows(window, stride);
  if (tokens < 2) throw Error(std::to_string(tokens) + " token(s) to evaluate: at least 2 are needed to score one");
  std::vector<Window> windows;
  int64_t scored_until = 0;  // tokens before this are scored already (token 0 never is)
  for (int64_t begin = 0;; begin += stride) {
    const int64_t end = std::min(begin + window, tokens);
    const Window w{begin, end, std::max(begin + 1, scored_until)};
    if (w.scored() > 0) windows.push_back(w);
    scored_until = end;
    if (end == tokens) return windows;
  }
}

void check_llama_cpp_chunks(int64_t context) {
  if (context < 3) throw Error("context " + std::to_string(context) + ": a chunk needs at least 3 tokens");
}

std::vector<Window> llama_cpp_chunks(int64_t tokens, int64_t context, int64_t max_chunks) {
  check_llama_cpp_chunks(context);
  int64_t chunks = tokens / context;
  if (chunks == 0)
    throw Error(std::to_string(tokens) + " tokens to evaluate: fewer than one chunk of " + std::to_string(context));
  if (max_chunks > 0) chunks = std::min(chunks, max_chunks);
  std::vector<Window> windows;
  for (int64_t i = 0; i < chunks; ++i) {
    const int64_t begin = i * context;
    windows.push_back({begin, begin + context, begin + context / 2 + 1});
  }
  return windows;
}

int64_t scored_tokens(std::span<const Window> windows) {
  int64_t n = 0;
  for (const Window& w : windows) n += w.scored();
  return n;
}

int64_t longest_window(std::span<const Window> windows) {
  int64_t n = 0;
  for (const Window& w : windows) n = std::max(n, w.end - w.begin);
  return n;
}

uint64_t evaluation_fingerprint(std::span<const int32_t> tokens, std::span<const Window> windows) {
  uint64_t hash = 0xcbf29ce484222325ull;
  const auto mix = [&hash](uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) {
      hash ^= (value >> (8 * i)) & 0xff;
      hash *= 0x100000001b3ull;
    }
  };
  for (const int32_t t : tokens) mix(static_cast<uint32_t>(t), 4);
  for (const Window& w : windows) {
    mix(static_cast<uint64_t>(w.begin), 8);
    mix(static_cast<uint64_t>(w.end), 8);
    mix(static_cast<uint64_t>(w.first_scored), 8);
  }
  return hash;
}

}  // namespace gptoss
