// Feeds arbitrary bytes, read as a JSON request body, to the three OpenAI request parsers: each
// must either return a request or throw ApiError (or gptoss::Error, for text that is not JSON);
// never crash or throw anything else. A conversation a parser accepted must render.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "gptoss/error.h"
#include "gptoss/harmony.h"
#include "io/json_limits.h"
#include "server/api_error.h"
#include "server/api_request.h"

namespace {

namespace harmony = gptoss::harmony;
namespace server = gptoss::server;

// "resp_1" is a stored response with a pending call "call_1", as the server would keep it.
server::ParseContext fuzz_context() {
  server::ParseContext context;
  context.current_date = "2025-06-28";
  context.previous = [](const std::string& id) -> std::optional<server::StoredResponse> {
    if (id != "resp_1") return std::nullopt;
    return server::StoredResponse{{harmony::Message::system(), harmony::Message::user("Weather?"),
                                   harmony::Message::assistant("analysis", "Use the tool."),
                                   harmony::Message::tool_call("functions.get_weather", "{}")},
                                  {{"call_1", "get_weather"}}};
  };
  return context;
}

void parse(server::ApiRequest (*parser)(const nlohmann::json&, const server::ParseContext&),
           const nlohmann::json& body) {
  static const server::ParseContext context = fuzz_context();
  try {
    const server::ApiRequest request = parser(body, context);
    if (!request.conversation.empty()) harmony::render_text_for_completion(request.conversation);
  } catch (const server::ApiError& e) {
    if (e.status() != 400 && e.status() != 404) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  nlohmann::json body;
  try {
    body = gptoss::parse_untrusted_json(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const gptoss::Error&) {
    return 0;
  }
  parse(server::parse_chat_request, body);
  parse(server::parse_responses_request, body);
  parse(server::parse_completions_request, body);
  return 0;
}
