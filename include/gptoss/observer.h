// A window on the forward pass, for tests and tools.
#pragma once

#include <cstdint>

namespace gptoss {

// Receives the residual stream after the embedding (layer 0), after each decoder layer
// (1..L) and after the final norm (L+1), as [rows, hidden] on the host.
class HiddenStateObserver {
 public:
  virtual ~HiddenStateObserver() = default;
  virtual void on_hidden_state(int index, int64_t rows, int64_t hidden, const float* values) = 0;
};

}  // namespace gptoss
