// Runs hand-written completions through an OutputAssembler, token by token, as the scheduler
// would deliver them: the text is encoded with special tokens allowed (the assembler starts
// inside the assistant header, so a transcript begins at `<|channel|>`), and with logprobs each
// token gets a made-up logprob and top_logprobs to follow through.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "server/output_assembler.h"
#include "tokenizer/tokenizer_fixture.h"

namespace gptoss::server::test {

using gptoss::test::gpt_oss_tokenizer;

inline std::vector<int32_t> tokens_of(std::string_view text) { return gpt_oss_tokenizer().encode(text, true); }

inline int token_count(std::string_view text) { return static_cast<int>(tokens_of(text).size()); }

// The i-th generated token's made-up logprob, and its two top alternatives (itself first).
inline TokenEvent token_event(int32_t token, size_t i) {
  TokenEvent event;
  event.token = token;
  event.logprob = -0.25f * static_cast<float>(i + 1);
  event.top_logprobs = {{token, event.logprob}, {token == 13 ? 11 : 13, event.logprob - 1}};
  return event;
}

struct Transcript {
  std::vector<OutputEvent> events;  // what feed() and finish() returned, in order
  AssembledOutput output;
  bool stopped = false;  // OutputAssembler::stopped() at the end
  int tokens_fed = 0;  // until stopped() (the server cancels then)
};

inline OutputAssembler::Options options_with(std::vector<std::string> stop = {}, bool logprobs = false,
                                             bool harmony = true) {
  OutputAssembler::Options options;
  options.harmony = harmony;
  options.stop = std::move(stop);
  options.logprobs = logprobs;
  options.call_id_prefix = "call_test";
  return options;
}

inline Transcript assemble(std::string_view completion, FinishReason reason = FinishReason::stop,
                           OutputAssembler::Options options = options_with()) {
  OutputAssembler assembler(gpt_oss_tokenizer(), std::move(options));
  Transcript t;
  const std::vector<int32_t> ids = tokens_of(completion);
  for (size_t i = 0; i < ids.size() && !assembler.stopped(); ++i) {
    for (OutputEvent& e : assembler.feed(token_event(ids[i], i))) t.events.push_back(std::move(e));
    ++t.tokens_fed;
  }
  t.stopped = assembler.stopped();
  for (OutputEvent& e : assembler.finish(t.stopped ? FinishReason::cancelled : reason)) t.events.push_back(std::move(e));
  t.stopped = assembler.stopped();  // also when the stop string was in text held until the end
  t.output = assembler.output();
  return t;
}

}  // namespace gptoss::server::test
