// Limits which tokens a generation may choose next: structured outputs (a JSON schema's
// grammar), forced tool calls. The scheduler asks for the allowed set before each sampled token
// and reports the token chosen; disallowed tokens get probability zero (their logits −∞ before
// the sampler's filters), so temperature, top-p and the rest act on the allowed tokens only.
#pragma once

#include <cstdint>
#include <span>

namespace gptoss {

class TokenConstraint {
 public:
  virtual ~TokenConstraint() = default;
  // Sets bit (id % 32) of allowed[id / 32] for every token that may come next; `allowed` has
  // one bit per id of the sampled vocabulary, all clear on entry. Leaving every bit clear
  // ends the generation (FinishReason::stop) — the constraint has nothing left to allow.
  virtual void allowed_tokens(std::span<uint32_t> allowed) = 0;
  // The token chosen (always one allowed_tokens just allowed).
  virtual void accept(int32_t token) = 0;
};

}  // namespace gptoss
