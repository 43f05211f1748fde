// /v1/completions: a raw prompt (text or token ids) and the generation options; no harmony.
#include <limits>

#include "server/api_request.h"
#include "server/json_fields.h"
#include "server/request_fields.h"

namespace gptoss::server {
namespace {

// `prompt`: a string, an array of token ids, or an array holding one string. Batches of
// prompts (several strings, arrays of token arrays) are refused: one prompt per request.
void read_prompt(const Field& prompt, ApiRequest& request) {
  if (prompt.present() && prompt.json().is_string()) {
    request.prompt_text = prompt.non_empty_string();
    return;
  }
  const size_t count = prompt.array();
  if (count == 0) throw prompt.invalid("expected a non-empty prompt");
  if (prompt[0].json().is_string()) {
    if (count > 1) throw prompt.invalid("expected one prompt per request, but got " + std::to_string(count));
    request.prompt_text = prompt[0].non_empty_string();
    return;
  }
  for (size_t i = 0; i < count; ++i)
    request.prompt_tokens.push_back(static_cast<int32_t>(prompt[i].integer(0, std::numeric_limits<int32_t>::max())));
}

}  // namespace

ApiRequest parse_completions_request(const nlohmann::json& json, const ParseContext&) {
  const Field body = Field::body(json);
  ApiRequest request;
  request.endpoint = Endpoint::completions;
  request.model = body["model"].string();
  if (const Field suffix = body["suffix"]; suffix.present())
    throw suffix.invalid("insertion after a suffix is not supported");
  read_prompt(body["prompt"], request);

  request.generation.sampler = read_sampling(body);
  request.generation.max_tokens = 16;  // OpenAI's default for completions
  if (const Field max = body["max_tokens"]; max.present())
    request.generation.max_tokens = static_cast<int>(max.integer(1, std::numeric_limits<int>::max()));
  request.max_tokens_given = true;
  // An integer here: the sampled token's log-probability and those of the `logprobs` most
  // probable tokens (0: the sampled one's only).
  if (const Field logprobs = body["logprobs"]; logprobs.present()) {
    request.generation.logprobs = true;
    request.generation.top_logprobs = static_cast<int>(logprobs.integer(0, 5));
  }
  if (const Field echo = body["echo"]; echo.present()) request.echo = echo.boolean();
  // vLLM's and llama.cpp's extension: generate max_tokens tokens whatever they are (benchmarks).
  if (const Field ignore_eos = body["ignore_eos"]; ignore_eos.present()) request.ignore_eos = ignore_eos.boolean();
  if (const Field n = body["n"]; n.present()) request.n = static_cast<int>(n.integer(1, 16));
  request.stop = read_stop(body["stop"]);
  read_stream(body, request);
  return request;
}

}  // namespace gptoss::server
