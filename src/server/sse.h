// Server-sent events (the WHATWG HTML "event stream" format), as the OpenAI APIs stream: one
// `data:` field per event, Responses events named by an `event:` field, Chat Completions and
// Completions ending with `data: [DONE]`.
#pragma once

#include <string>
#include <string_view>

namespace gptoss::server::sse {

// "data: PAYLOAD\n\n". A payload of several lines becomes one `data:` field per line, which the
// client joins back with newlines.
std::string data(std::string_view payload);
// "event: NAME\ndata: PAYLOAD\n\n".
std::string event(std::string_view name, std::string_view payload);
// "data: [DONE]\n\n": the end of a Chat Completions or Completions stream.
std::string done();

}  // namespace gptoss::server::sse
