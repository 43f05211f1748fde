// The generated tokens of one choice, turned into what the OpenAI APIs report: the analysis
// channel as reasoning, the final channel as content, commentary messages addressed to
// `functions.NAME` as tool calls (arguments as a JSON string, ids stable per call), in deltas
// that never mix the three, and at the end the whole answer. Output that breaks harmony becomes
// plain content (everything generated, as text) rather than an error or lost text.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "gptoss/generation_options.h"
#include "gptoss/harmony.h"
#include "gptoss/scheduler.h"
#include "gptoss/tokenizer.h"

namespace gptoss::server {

struct TokenLogprob {
  std::string token;           // the token's text (its bytes; may be part of a UTF-8 character)
  std::vector<uint8_t> bytes;
  float logprob = 0;
  std::vector<std::pair<std::string, float>> top;  // top_logprobs: text, logprob
  std::vector<std::vector<uint8_t>> top_bytes;
};

struct ToolCall {
  std::string id;         // "call_" + stable per request and index
  std::string name;       // without the "functions." prefix
  std::string arguments;  // JSON text as the model wrote it
};

struct OutputEvent {
  enum class Kind {
    reasoning,            // text continues the reasoning
    content,              // text continues the answer
    tool_call_start,      // a new tool call: tool_index, call_id, name
    tool_call_arguments,  // text continues tool call tool_index's arguments
  };
  Kind kind = Kind::content;
  std::string text;
  int tool_index = 0;
  std::string call_id;
  std::string name;
  std::vector<TokenLogprob> logprobs;  // content events, with logprobs: the tokens behind the text
};

struct AssembledOutput {
  std::string reasoning;
  std::string content;
  std::vector<ToolCall> tool_calls;
  // "stop", "length" or "tool_calls" (chat's finish_reason; the engine maps a full context to
  // "length" and a cancelled request to nothing).
  std::string finish_reason;
  int completion_tokens = 0;
  int reasoning_tokens = 0;  // tokens of analysis messages (headers included)
  std::vector<TokenLogprob> logprobs;  // of the content's tokens
  // The answer as harmony messages (analysis, tool calls, final), for multi-turn histories.
  std::vector<harmony::Message> messages;
};

class OutputAssembler {
 public:
  struct Options {
    bool harmony = true;              // false (completions): every token is content
    std::vector<std::string> stop;    // stop strings, searched in the content
    bool logprobs = false;
    std::string call_id_prefix;       // tool call ids are call_id_prefix + "_" + index
  };
  OutputAssembler(const Tokenizer& tokenizer, Options options);

  // One generated token. Returns the deltas it completes; text that may begin a stop string is
  // held back until it is known not to.
  std::vector<OutputEvent> feed(const TokenEvent& token);
  // A stop string was found: the answer ends before it, and the request should be cancelled.
  bool stopped() const;
  // The generation ended (`reason` from the scheduler): flushes held text and sets
  // output().finish_reason.
  std::vector<OutputEvent> finish(FinishReason reason);
  const AssembledOutput& output() const;
};

}  // namespace gptoss::server
