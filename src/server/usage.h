// The token counts a response reports, over all of its choices.
#pragma once

#include "server/output_assembler.h"

namespace gptoss::server {

struct Usage {
  int prompt_tokens = 0;
  int cached_tokens = 0;      // prompt tokens the prefix cache gave (Scheduler::cached_prompt_tokens)
  int completion_tokens = 0;  // every generated token of every choice
  int reasoning_tokens = 0;   // of which in analysis messages

  // Counts one choice's generated tokens.
  void add(const AssembledOutput& output) {
    completion_tokens += output.completion_tokens;
    reasoning_tokens += output.reasoning_tokens;
  }
  int total_tokens() const { return prompt_tokens + completion_tokens; }
};

}  // namespace gptoss::server
