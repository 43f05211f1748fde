// Request fields that several endpoints read the same way.
#pragma once

#include <string>
#include <vector>

#include "gptoss/harmony.h"
#include "gptoss/sampler.h"
#include "server/api_request.h"
#include "server/json_fields.h"

namespace gptoss::server {

// `reasoning_effort` (chat's field) or `reasoning.effort` (Responses'); both endpoints accept
// both, and reasoning_effort wins when both are given. "low", "medium" or "high", and
// "minimal" as low (harmony has no lower level); medium, harmony's default, when absent.
harmony::ReasoningEffort read_reasoning_effort(const Field& body);

// `stop`: one string or up to 4, none empty.
std::vector<std::string> read_stop(const Field& stop);

// `stream`, and `stream_options.include_usage`, which only a streamed request may set.
void read_stream(const Field& body, ApiRequest& request);

// The answer's format: chat's `response_format` ({type, json_schema: {name, schema, strict}})
// or Responses' `text.format` ({type, name, schema, strict}), of type "text", "json_object" or
// "json_schema"; text when absent.
StructuredOutput read_structured_output(const Field& format, Endpoint endpoint);

// temperature [0, 2], top_p (0, 1], top_k ≥ 0, min_p [0, 1], seed (any 64-bit integer),
// frequency_penalty and presence_penalty [-2, 2], logit_bias {"token id": [-100, 100]}.
// Absent fields keep OpenAI's defaults: temperature 1 and top_p 1, a draw from the model's own
// distribution (not greedy, which is SamplerOptions' default).
SamplerOptions read_sampling(const Field& body);

}  // namespace gptoss::server
