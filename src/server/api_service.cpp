#include "server/api_service.h"

#include <chrono>
#include <ctime>

#include "gptoss/error.h"
#include "gptoss/harmony.h"
#include "gptoss/model.h"
#include "server/api_error.h"
#include "server/api_request.h"
#include "server/chat_response.h"
#include "server/completions_response.h"
#include "server/generation_run.h"
#include "server/harmony_constraint.h"
#include "server/ids.h"
#include "server/responses_response.h"
#include "server/sse.h"

namespace gptoss::server {

namespace {

using Clock = GenerationRun::Clock;

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

// What a stream writes when its generation fails after the answer began: the error object as
// an event, which the OpenAI clients raise as an APIError.
std::string stream_error(const std::exception& e) { return sse::data(ApiError(500, e.what()).body().dump()); }

// While a streaming client waits for its next token (queued behind a full batch, or behind a
// long prefill), an SSE comment at most every 250 ms finds out whether it is still there: a write
// to a connection the peer closed fails (from the second one on), and the request is then
// dropped, freeing its place in the queue. Clients skip comments.
std::function<bool()> heartbeat(const StreamWrite& write) {
  return [&write, last = Clock::now()]() mutable {
    const auto now = Clock::now();
    if (now - last < std::chrono::milliseconds(250)) return true;
    last = now;
    return write(": keep-alive\n\n");
  };
}

// One admitted request: its ticket, the run over its choices, and what it was asked.
struct Admitted {
  ApiRequest request;
  std::unique_ptr<Ticket> ticket;
  std::unique_ptr<GenerationRun> run;
};

// Chat completions and completions: n choices, each answered as its own chunks when streamed
// (chat opens each with the assistant's role), or together in `whole`'s object.
template <class Info, class StreamWriter,
          nlohmann::json (*whole)(const Info&, const std::vector<AssembledOutput>&, const Usage&)>
class ChoicesReply final : public Reply {
 public:
  ChoicesReply(Admitted a, Info info, Metrics& metrics) : a_(std::move(a)), info_(std::move(info)), metrics_(metrics) {}
  bool streaming() const override { return a_.request.stream; }

  nlohmann::json complete() override {
    a_.run->run([](int, const std::vector<OutputEvent>&, bool) { return true; });
    const Usage usage = a_.run->usage();
    metrics_.prompt(usage.prompt_tokens, usage.cached_tokens);
    return whole(info_, a_.run->outputs(), usage);
  }

  void stream(const StreamWrite& write) override {
    StreamWriter writer(info_, a_.ticket->choices(), a_.request.include_usage);
    if constexpr (requires { writer.start(0); })
      for (int i = 0; i < a_.ticket->choices(); ++i)
        if (!write(writer.start(i))) return;
    try {
      const bool all = a_.run->run(
          [&](int choice, const std::vector<OutputEvent>& events, bool finished) {
            std::string text = writer.events(choice, events);
            if (finished) text += writer.finish(choice, a_.run->output(choice));
            return text.empty() || write(text);
          },
          heartbeat(write));
      if (!all) return;
    } catch (const Error& e) {
      write(stream_error(e));
      return;
    }
    const Usage usage = a_.run->usage();
    metrics_.prompt(usage.prompt_tokens, usage.cached_tokens);
    write(writer.end(usage));
  }

 private:
  Admitted a_;
  Info info_;
  Metrics& metrics_;
};

using ChatReply = ChoicesReply<ChatResponseInfo, ChatStreamWriter, chat_completion>;
using CompletionReply = ChoicesReply<CompletionInfo, CompletionStreamWriter, text_completion>;

class ResponsesReply final : public Reply {
 public:
  ResponsesReply(Admitted a, ResponseInfo info, Metrics& metrics, ResponseStore& store)
      : a_(std::move(a)), info_(std::move(info)), metrics_(metrics), store_(store) {}
  bool streaming() const override { return a_.request.stream; }

  nlohmann::json complete() override {
    a_.run->run([](int, const std::vector<OutputEvent>&, bool) { return true; });
    return finished();
  }

  void stream(const StreamWrite& write) override {
    ResponseStreamWriter writer(info_);
    if (!write(writer.start())) return;
    try {
      const bool whole = a_.run->run([&](int, const std::vector<OutputEvent>& events, bool) {
        const std::string text = writer.events(events);
        return text.empty() || write(text);
      }, heartbeat(write));
      if (!whole) return;
    } catch (const Error& e) {
      write(stream_error(e));
      return;
    }
    finished();
    write(writer.finish(a_.run->output(0), a_.run->usage()));
  }

 private:
  // The response object, stored (with the conversation it ended) when the request allows.
  nlohmann::json finished() {
    const Usage usage = a_.run->usage();
    metrics_.prompt(usage.prompt_tokens, usage.cached_tokens);
    const AssembledOutput& output = a_.run->output(0);
    nlohmann::json response = response_object(info_, output, usage);
    if (a_.request.store) {
      StoredResponse stored{a_.request.conversation, a_.request.tool_call_names};
      stored.conversation.insert(stored.conversation.end(), output.messages.begin(), output.messages.end());
      for (const ToolCall& call : output.tool_calls) stored.tool_call_names[call.id] = call.name;
      store_.put(info_.id, std::move(stored), response);
    }
    return response;
  }

  Admitted a_;
  ResponseInfo info_;
  Metrics& metrics_;
  ResponseStore& store_;
};

}  // namespace

ApiService::ApiService(Engine& engine, const Tokenizer& tokenizer, ServiceOptions options, Metrics& metrics)
    : engine_(engine),
      tokenizer_(tokenizer),
      options_(std::move(options)),
      metrics_(metrics),
      store_(options_.stored_responses),
      created_(unix_now()),
      vocabulary_(std::make_shared<const ConstraintVocabulary>(tokenizer)) {}

void ApiService::check_model(const std::string& requested) const {
  if (requested != options_.model_id)
    throw ApiError(404, "the model '" + requested + "' does not exist; this server serves '" + options_.model_id + "'",
                   "model", "model_not_found");
}

ParseContext ApiService::parse_context() {
  ParseContext context;
  context.previous = [this](const std::string& id) { return store_.stored(id); };
  context.current_date = options_.current_date;
  return context;
}

// A harmony request's prompt, options and constraints, admitted to the engine.
std::unique_ptr<GenerationRun> ApiService::admit_harmony(ApiRequest& request, std::unique_ptr<Ticket>& ticket,
                                                         Clock::time_point received) {
  check_model(request.model);
  std::vector<int32_t> prompt;
  try {
    prompt = harmony::render_for_completion(tokenizer_, request.conversation);
  } catch (const Error& e) {
    throw bad_request(e.what(), request.endpoint == Endpoint::responses ? "input" : "messages");
  }
  GenerationOptions options = request.generation;
  options.stop_tokens = harmony::stop_tokens(tokenizer_);
  options.sample_vocab_size = tokenizer_.vocab_size();
  const auto constraints = harmony_constraints(vocabulary_, request);
  ticket = engine_.submit(prompt, options, request.n, request.max_tokens_given, constraints);
  OutputAssembler::Options assembly;
  assembly.stop = request.stop;
  assembly.logprobs = request.generation.logprobs;
  return std::make_unique<GenerationRun>(*ticket, tokenizer_, assembly, metrics_, received);
}

std::unique_ptr<Reply> ApiService::chat_completions(const nlohmann::json& body) {
  const auto received = Clock::now();
  Admitted a{parse_chat_request(body, parse_context()), nullptr, nullptr};
  a.run = admit_harmony(a.request, a.ticket, received);
  ChatResponseInfo info;
  info.id = random_id("chatcmpl-");
  info.created = unix_now();
  info.model = options_.model_id;
  info.system_fingerprint = "gptoss";
  info.logprobs = a.request.generation.logprobs;
  return std::make_unique<ChatReply>(std::move(a), std::move(info), metrics_);
}

std::unique_ptr<Reply> ApiService::responses(const nlohmann::json& body) {
  const auto received = Clock::now();
  Admitted a{parse_responses_request(body, parse_context()), nullptr, nullptr};
  a.run = admit_harmony(a.request, a.ticket, received);
  ResponseInfo info;
  info.id = random_id("resp_");
  info.created_at = unix_now();
  info.model = options_.model_id;
  info.settings = response_settings(body);
  return std::make_unique<ResponsesReply>(std::move(a), std::move(info), metrics_, store_);
}

std::unique_ptr<Reply> ApiService::completions(const nlohmann::json& body) {
  const auto received = Clock::now();
  Admitted a{parse_completions_request(body, parse_context()), nullptr, nullptr};
  ApiRequest& request = a.request;
  check_model(request.model);
  std::vector<int32_t> prompt = request.prompt_tokens;
  if (prompt.empty()) prompt = tokenizer_.encode(request.prompt_text, true);
  for (const int32_t id : prompt)
    if (id < 0 || id >= tokenizer_.vocab_size())
      throw bad_request("the prompt's token " + std::to_string(id) + " is outside the vocabulary", "prompt");
  if (prompt.empty()) throw bad_request("the prompt is empty", "prompt");
  GenerationOptions options = request.generation;
  if (!request.ignore_eos) options.stop_tokens = eos_token_ids(engine_.model());
  options.sample_vocab_size = tokenizer_.vocab_size();
  a.ticket = engine_.submit(prompt, options, request.n, request.max_tokens_given);
  OutputAssembler::Options assembly;
  assembly.harmony = false;
  assembly.stop = request.stop;
  assembly.logprobs = request.generation.logprobs;
  a.run = std::make_unique<GenerationRun>(*a.ticket, tokenizer_, assembly, metrics_, received);
  CompletionInfo info;
  info.id = random_id("cmpl-");
  info.created = unix_now();
  info.model = options_.model_id;
  info.system_fingerprint = "gptoss";
  info.logprobs = request.generation.logprobs;
  if (request.echo) info.echo = tokenizer_.decode(prompt);
  return std::make_unique<CompletionReply>(std::move(a), std::move(info), metrics_);
}

nlohmann::json ApiService::model(const std::string& id) const {
  if (id != options_.model_id)
    throw ApiError(404, "the model '" + id + "' does not exist", "model", "model_not_found");
  return {{"id", options_.model_id}, {"object", "model"}, {"created", created_}, {"owned_by", "gptoss"}};
}

nlohmann::json ApiService::models() const {
  return {{"object", "list"}, {"data", nlohmann::json::array({model(options_.model_id)})}};
}

nlohmann::json ApiService::stored_response(const std::string& id) {
  if (auto response = store_.response(id)) return *response;
  throw ApiError(404, "no stored response '" + id + "'", "response_id", "not_found");
}

nlohmann::json ApiService::delete_response(const std::string& id) {
  if (!store_.erase(id)) throw ApiError(404, "no stored response '" + id + "'", "response_id", "not_found");
  return {{"id", id}, {"object", "response"}, {"deleted", true}};
}

}  // namespace gptoss::server
