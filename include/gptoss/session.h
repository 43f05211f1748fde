// A Session owns the KV cache of up to `max_sequences` independent sequences and runs the
// forward pass over a batch of them: prefill a prompt, then decode one token per step.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "gptoss/model.h"

namespace gptoss {

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

// Receives the residual stream after the embedding (layer 0), after each decoder layer
// (1..L) and after the final norm (L+1), as [rows, hidden] on the host. For tests and tools.
class HiddenStateObserver {
 public:
  virtual ~HiddenStateObserver() = default;
  virtual void on_hidden_state(int index, int64_t rows, int64_t hidden, const float* values) = 0;
};

class Session {
 public:
  Session(const Model& model, const SessionOptions& options = {});
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs one batch. Throws gptoss::Error on a bad token id, an unknown sequence, a sequence
  // listed twice, or a sequence that would run past the context length; the session is
  // unchanged in that case.
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
