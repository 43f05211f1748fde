// What /v1/completions answers: a `text_completion` object, or a stream of them as server-sent
// events. The legacy logprobs shape: tokens, token_logprobs, top_logprobs (one {token: logprob}
// object per token) and text_offset (each token's character offset in the choice's text).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "server/output_assembler.h"
#include "server/usage.h"

namespace gptoss::server {

struct CompletionInfo {
  std::string id;         // "cmpl-…" (random_id)
  int64_t created = 0;    // Unix seconds
  std::string model;      // as the response reports it
  std::string system_fingerprint;
  bool logprobs = false;  // the request asked for logprobs: choices carry them, else null
  std::string echo;       // echo: the prompt's text, put before each choice's text
};

// The whole `text_completion` object; `choices[i]` is choice i's finished output.
nlohmann::json text_completion(const CompletionInfo& info, const std::vector<AssembledOutput>& choices,
                               const Usage& usage);

// The chunks of a streamed response, as SSE text for the server to write. Choices (n > 1) may
// interleave; each chunk names its choice's index.
class CompletionStreamWriter {
 public:
  CompletionStreamWriter(CompletionInfo info, int choices, bool include_usage);

  // One chunk per content event of choice `index` (a choice's first chunk starts with the echo).
  std::string events(int index, const std::vector<OutputEvent>& events);
  // Choice `index`'s last chunk: empty text and output.finish_reason.
  std::string finish(int index, const AssembledOutput& output);
  // After every choice finished: the usage chunk (choices: [], with include_usage) and [DONE].
  std::string end(const Usage& usage);

 private:
  std::string echo(int index);  // the echo's chunk, before a choice's first
  std::string chunk(int index, const std::string& text, const std::vector<TokenLogprob>& logprobs,
                    nlohmann::json finish_reason);

  CompletionInfo info_;
  bool include_usage_;
  std::vector<bool> echoed_;
  std::vector<size_t> text_offsets_;  // characters of each choice's text so far
};

}  // namespace gptoss::server
