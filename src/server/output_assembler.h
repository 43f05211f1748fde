// The generated tokens of one choice, turned into what the OpenAI APIs report: the analysis
// channel as reasoning, the final channel as content, commentary messages addressed to
// `functions.NAME` as tool calls (arguments as a JSON string, ids stable per call), in deltas
// that never mix the three, and at the end the whole answer. Output that breaks harmony becomes
// plain content (everything generated, as text) rather than an error or lost text.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
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

// What a message of the answer is reported as: a tool call (tool_call_start; any message to a
// recipient), reasoning (the analysis channel) or content (final answers, preambles).
OutputEvent::Kind message_kind(const harmony::Message& message);

class ContentStream;

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

  OutputAssembler(OutputAssembler&&) noexcept;
  ~OutputAssembler();

 private:
  using Events = std::vector<OutputEvent>;
  void feed_harmony(const TokenEvent& token, Events& events);
  void on_header(Events& events);
  void end_message(Events& events);
  void fall_back(Events& events);
  void feed_plain(const TokenEvent& token, Events& events);
  void emit_text(std::string text, const TokenEvent* token, Events& events);
  void emit_content(std::string_view text, const TokenEvent* token, Events& events);
  void emit_held_content(Events& events);
  void emit(OutputEvent event, Events& events);

  const Tokenizer* tokenizer_;
  Options options_;
  harmony::Parser parser_;
  int32_t call_token_;
  std::unique_ptr<ContentStream> content_;
  // The text of the current message's content, or all of it once it is plain text: a character
  // split across tokens is held here, so that a message ending inside one loses no bytes.
  StreamingDecoder decoder_;
  bool harmony_;                       // false without harmony, and once the output broke it
  std::vector<TokenEvent> header_;     // the tokens since the current message began, until its header is read
  harmony::Message message_;           // the current message, with the text reported for it
  bool in_message_ = false;            // message_ has a header (or is the plain text)
  std::optional<TokenEvent> held_special_;  // plain text: a control token, dropped if it ends the answer
  bool ended_with_call_ = false;       // the last token was <|call|> closing a tool call
  bool stopped_ = false;
  AssembledOutput output_;
};

}  // namespace gptoss::server
