// A Session owns the KV cache of up to `max_sequences` independent sequences and runs the
// forward pass over a batch of them: prefill a prompt, then decode one token per step.
//
// Any number of Sessions may run on one Model at once, from different threads, each giving the
// results it gives alone. One Session is used by one thread at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "gptoss/model.h"
#include "gptoss/observer.h"

namespace gptoss {

// How keys and values are stored: bf16 halves the memory (the default, as serving engines do);
// f32 keeps them exact (the reference tests).
enum class KvPrecision { bf16, f32 };
KvPrecision parse_kv_precision(const std::string& name);  // "bf16" or "f32"; throws gptoss::Error

// The paged KV cache: blocks of `block_tokens` positions from a pool sized once.
struct KvOptions {
  KvPrecision precision = KvPrecision::bf16;
  int block_tokens = 32;
  // Bytes for the pool's blocks; 0: enough for every sequence to reach its context length (on
  // the CPU the pool is lazily backed: memory follows use either way).
  int64_t memory_bytes = 0;
};

struct SessionOptions {
  int max_sequences = 1;
  // Longest sequence (prompt + generated) a full-attention layer keeps; sliding layers keep
  // only their window. Full-layer memory grows with use up to this limit.
  int context_length = 4096;
  // > 0: full-attention layers keep only the most recent max_kv_size tokens (the current one
  // included), as the sliding layers keep theirs: memory stays bounded and a sequence may run
  // past context_length. 0: full layers keep everything, up to context_length.
  int max_kv_size = 0;
  // How many of its latest tokens a sequence can take back with truncate() (extra ring slots
  // for the windowed layers; full layers without max_kv_size can always go back).
  int rollback = 0;
  KvOptions kv;
  // Checked between layers: when it returns true, forward() throws gptoss::Interrupted (Ctrl-C).
  std::function<bool()> should_stop;
};

enum class LogitsWanted { none, last, all };

// Tokens to append to one sequence. Its positions continue from what the session already holds.
struct SequenceInput {
  int sequence = 0;
  std::span<const int32_t> tokens;
  LogitsWanted logits = LogitsWanted::last;
};

// Logits of the requested positions, row-major [rows, vocab]: the inputs' rows in input order.
struct Logits {
  int64_t rows = 0;
  int64_t vocab = 0;
  std::vector<float> values;
  const float* row(int64_t r) const { return values.data() + r * vocab; }
};

class Session {
 public:
  Session(const Model& model, const SessionOptions& options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs one batch. Throws gptoss::Error on a bad token id, an unknown sequence, a sequence
  // listed twice, a sequence that would run past the context length, or a KV pool too small
  // for the batch; the session is unchanged in that case.
  Logits forward(std::span<const SequenceInput> inputs, HiddenStateObserver* observer = nullptr);

  int position(int sequence) const;  // tokens held for `sequence`
  void reset(int sequence);          // forgets the sequence
  // Forgets the tokens of `sequence` from `position` on, so that it continues from there.
  // Returns false (and changes nothing) when windowed layers no longer hold what that needs:
  // going back more than SessionOptions::rollback tokens.
  bool truncate(int sequence, int position);
  int context_length() const;
  int max_kv_size() const;  // 0: the full layers are not windowed
  int max_sequences() const;
  const Model& model() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace gptoss
