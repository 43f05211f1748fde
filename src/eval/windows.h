// Which tokens of a stream are scored, and from which context: the window/stride arithmetic of
// the evaluation protocols (docs/EVALUATION.md, "Protocols"). Pure functions.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace gptoss {

// The model reads tokens [begin, end) from an empty context; tokens [first_scored, end) are
// scored, each predicted from the window's tokens before it.
struct Window {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t first_scored = 0;

  int64_t scored() const { return end - first_scored; }
  bool operator==(const Window&) const = default;
};

// Windows of `window` tokens starting every `stride` tokens (1 ≤ stride ≤ window), the last one
// ending with the stream. Every token but the first is scored exactly once, as in transformers'
// sliding-window recipe: a window scores the tokens past the previous window's end, never its
// own first token. So stride = window gives independent windows that score all but their first
// token (mlx-lm's and halley-ai's protocol), and stride < window scores the last `stride` tokens
// of each window (all but the first token of the first), each with ≥ window − stride tokens of
// context. Throws gptoss::Error for bad window or stride (check_strided_windows) or < 2 tokens.
std::vector<Window> strided_windows(int64_t tokens, int64_t window, int64_t stride);
// Throws gptoss::Error unless window ≥ 2 and 1 ≤ stride ≤ window.
void check_strided_windows(int64_t window, int64_t stride);

// llama-perplexity's chunks: ⌊tokens / context⌋ non-overlapping chunks (at most `max_chunks`
// when > 0), each scoring its second half: tokens context/2 + 1 … context − 1 of the chunk.
// Throws gptoss::Error for a context < 3 (check_llama_cpp_chunks) or fewer tokens than one chunk.
std::vector<Window> llama_cpp_chunks(int64_t tokens, int64_t context, int64_t max_chunks);
void check_llama_cpp_chunks(int64_t context);

int64_t scored_tokens(std::span<const Window> windows);
int64_t longest_window(std::span<const Window> windows);

// FNV-1a (64-bit) over the tokens and the windows: two runs with the same fingerprint scored
// the same tokens from the same contexts.
uint64_t evaluation_fingerprint(std::span<const int32_t> tokens, std::span<const Window> windows);

}  // namespace gptoss
