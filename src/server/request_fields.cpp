#include "server/request_fields.h"

#include <charconv>
#include <limits>

namespace gptoss::server {

harmony::ReasoningEffort read_reasoning_effort(const Field& body) {
  Field effort = body["reasoning_effort"];
  if (!effort.present()) effort = body["reasoning"]["effort"];
  if (!effort.present()) return harmony::ReasoningEffort::medium;
  const std::string name = effort.one_of({"minimal", "low", "medium", "high"});
  return name == "minimal" ? harmony::ReasoningEffort::low : *harmony::parse_reasoning_effort(name);
}

std::vector<std::string> read_stop(const Field& stop) {
  if (!stop.present()) return {};
  if (stop.json().is_string()) return {stop.non_empty_string()};
  const size_t count = stop.array(4);
  std::vector<std::string> strings;
  for (size_t i = 0; i < count; ++i) strings.push_back(stop[i].non_empty_string());
  return strings;
}

void read_stream(const Field& body, ApiRequest& request) {
  if (const Field stream = body["stream"]; stream.present()) request.stream = stream.boolean();
  const Field options = body["stream_options"];
  if (!options.present()) return;
  options.object();
  if (!request.stream) throw options.invalid("only allowed when 'stream' is true");
  if (const Field usage = options["include_usage"]; usage.present()) request.include_usage = usage.boolean();
}

StructuredOutput read_structured_output(const Field& format, Endpoint endpoint) {
  StructuredOutput output;
  if (!format.present()) return output;
  const std::string type = format["type"].one_of({"text", "json_object", "json_schema"});
  if (type == "text") return output;
  if (type == "json_object") {
    output.kind = StructuredOutput::Kind::json_object;
    return output;
  }
  const Field schema = endpoint == Endpoint::chat_completions ? format["json_schema"] : format;
  schema.object();
  output.kind = StructuredOutput::Kind::json_schema;
  output.name = schema["name"].identifier();
  output.schema = schema["schema"].object();
  // strict is only checked: how the schema constrains the answer is the server's decision.
  if (const Field strict = schema["strict"]; strict.present()) strict.boolean();
  return output;
}

SamplerOptions read_sampling(const Field& body) {
  SamplerOptions sampler;
  sampler.temperature = 1;
  sampler.top_p = 1;
  if (const Field f = body["temperature"]; f.present()) sampler.temperature = static_cast<float>(f.number(0, 2));
  if (const Field f = body["top_p"]; f.present()) {
    sampler.top_p = static_cast<float>(f.number(0, 1));
    if (sampler.top_p == 0) throw f.invalid("expected a number in (0, 1], but got 0");
  }
  if (const Field f = body["top_k"]; f.present())
    sampler.top_k = static_cast<int>(f.integer(0, std::numeric_limits<int>::max()));
  if (const Field f = body["min_p"]; f.present()) sampler.min_p = static_cast<float>(f.number(0, 1));
  if (const Field f = body["seed"]; f.present()) sampler.seed = f.integer_bits();
  // OpenAI's penalties count every token sampled so far, where mlx_lm's (SamplerOptions'
  // defaults) look back 20 tokens: the window is the whole history. (The scheduler's history
  // also holds the prompt's last token, "assistant" of the header, which they then see too.)
  if (const Field f = body["frequency_penalty"]; f.present()) {
    sampler.frequency_penalty = static_cast<float>(f.number(-2, 2));
    sampler.frequency_context_size = std::numeric_limits<int>::max();
  }
  if (const Field f = body["presence_penalty"]; f.present()) {
    sampler.presence_penalty = static_cast<float>(f.number(-2, 2));
    sampler.presence_context_size = std::numeric_limits<int>::max();
  }
  if (const Field bias = body["logit_bias"]; bias.present()) {
    for (const auto& [key, value] : bias.object().items()) {
      const Field entry = bias[key];
      int32_t id = -1;
      const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), id);
      if (key.empty() || key[0] == '-' || error != std::errc() || end != key.data() + key.size())
        throw entry.invalid("expected a token id (a non-negative integer) as the key");
      sampler.logit_bias.emplace_back(id, static_cast<float>(entry.number(-100, 100)));
    }
  }
  return sampler;
}

}  // namespace gptoss::server
