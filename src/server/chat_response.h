// What /v1/chat/completions answers: a `chat.completion` object, or a stream of
// `chat.completion.chunk` objects as server-sent events. Reasoning is reported as
// `reasoning_content` beside `content` (the field llama.cpp and vLLM use for gpt-oss), and a
// streamed delta never mixes reasoning, content and tool calls.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/output_assembler.h"
#include "server/usage.h"

namespace gptoss::server {

// What every object of one response carries.
struct ChatResponseInfo {
  std::string id;             // "chatcmpl-…" (random_id)
  int64_t created = 0;        // Unix seconds
  std::string model;          // as the response reports it
  std::string system_fingerprint;
  bool logprobs = false;      // the request asked for logprobs: choices carry them, else null
};

// The whole `chat.completion` object; `choices[i]` is choice i's finished output.
nlohmann::json chat_completion(const ChatResponseInfo& info, const std::vector<AssembledOutput>& choices,
                               const Usage& usage);

// The chunks of a streamed response, as SSE text for the server to write. Choices (n > 1) may
// interleave in any order; each chunk names its choice's index.
class ChatStreamWriter {
 public:
  ChatStreamWriter(ChatResponseInfo info, int choices, bool include_usage);

  // Choice `index`'s first chunk: delta {role: "assistant", content: ""}. Sent by events() and
  // finish() when not yet; call it to answer before the first token.
  std::string start(int index);
  // One chunk per event of choice `index`.
  std::string events(int index, const std::vector<OutputEvent>& events);
  // Choice `index`'s last chunk: an empty delta and output.finish_reason.
  std::string finish(int index, const AssembledOutput& output);
  // After every choice finished: the usage chunk (choices: [], with include_usage) and [DONE].
  std::string end(const Usage& usage);

 private:
  nlohmann::json chunk() const;
  std::string choice_chunk(int index, nlohmann::json delta, nlohmann::json logprobs, nlohmann::json finish_reason);

  ChatResponseInfo info_;
  bool include_usage_;
  std::vector<bool> started_;
};

}  // namespace gptoss::server
