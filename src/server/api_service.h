// The OpenAI endpoints without HTTP: a parsed request body in; out, either a JSON answer or a
// stream of server-sent events. Admission happens before a Reply exists, so every refusal
// (a bad field, a full queue, the context exceeded) is an ApiError the HTTP layer can still
// answer with its status; a Reply only generates.
//
// Thread-safe: one ApiService serves every connection.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "gptoss/tokenizer.h"
#include "server/api_request.h"
#include "server/engine.h"
#include "server/generation_run.h"
#include "server/harmony_constraint.h"
#include "server/metrics.h"
#include "server/response_store.h"

namespace gptoss::server {

// Writes the next piece of a streamed answer; false when the client is gone (the answer is
// then cancelled and its KV freed).
using StreamWrite = std::function<bool(std::string_view)>;

class Reply {
 public:
  virtual ~Reply() = default;
  virtual bool streaming() const = 0;
  // Non-streaming: generates every choice and returns the answer.
  virtual nlohmann::json complete() = 0;
  // Streaming: generates, writing events as they come, until the end or a failed write.
  virtual void stream(const StreamWrite& write) = 0;
};

struct ServiceOptions {
  std::string model_id;          // the name clients use, reported by /v1/models
  size_t stored_responses = 1000;
  std::string current_date;      // "YYYY-MM-DD" for the system message; empty: today's
};

class ApiService {
 public:
  ApiService(Engine& engine, const Tokenizer& tokenizer, ServiceOptions options, Metrics& metrics);

  // Throw ApiError for anything refused.
  std::unique_ptr<Reply> chat_completions(const nlohmann::json& body);
  std::unique_ptr<Reply> responses(const nlohmann::json& body);
  std::unique_ptr<Reply> completions(const nlohmann::json& body);

  nlohmann::json models() const;
  nlohmann::json model(const std::string& id) const;  // 404 ApiError for another id
  nlohmann::json stored_response(const std::string& id);  // 404 when unknown
  nlohmann::json delete_response(const std::string& id);  // 404 when unknown

  const std::string& model_id() const { return options_.model_id; }

 private:
  void check_model(const std::string& requested) const;
  ParseContext parse_context();
  std::unique_ptr<GenerationRun> admit_harmony(ApiRequest& request, std::unique_ptr<Ticket>& ticket,
                                               GenerationRun::Clock::time_point received);

  Engine& engine_;
  const Tokenizer& tokenizer_;
  ServiceOptions options_;
  Metrics& metrics_;
  ResponseStore store_;
  int64_t created_;  // when the server started: the model's "created"
  std::shared_ptr<const ConstraintVocabulary> vocabulary_;
};

}  // namespace gptoss::server
