#include "server/http_server.h"

#include <httplib.h>

#include <string_view>

#include "gptoss/error.h"
#include "server/api_error.h"

namespace gptoss::server {

namespace {

// Compares the whole of both strings whatever they hold, so the time taken says nothing about
// how much of a guessed key was right.
bool same_key(std::string_view given, std::string_view expected) {
  unsigned difference = given.size() == expected.size() ? 0u : 1u;
  for (size_t i = 0; i < given.size(); ++i)
    difference |= static_cast<unsigned char>(given[i]) ^
                  static_cast<unsigned char>(expected.empty() ? 0 : expected[i % expected.size()]);
  return difference == 0;
}

void send_json(httplib::Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace), "application/json");
}

void send_error(httplib::Response& res, const ApiError& e) {
  if (e.status() == 429) res.set_header("Retry-After", "1");
  if (e.status() == 401) res.set_header("WWW-Authenticate", "Bearer");
  send_json(res, e.status(), e.body());
}

nlohmann::json parse_body(const httplib::Request& req) {
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded()) throw bad_request("the request body is not valid JSON", {}, "invalid_json");
  if (!body.is_object()) throw bad_request("the request body must be a JSON object", {}, "invalid_json");
  return body;
}

}  // namespace

struct HttpServer::Impl {
  ApiService& service;
  Engine& engine;
  Metrics& metrics;
  HttpOptions options;
  httplib::Server http;
  int port = 0;

  Impl(ApiService& s, Engine& e, Metrics& m, HttpOptions o) : service(s), engine(e), metrics(m), options(std::move(o)) {}

  void authorize(const httplib::Request& req) const {
    if (options.api_key.empty()) return;
    const std::string header = req.get_header_value("Authorization");
    const std::string_view prefix = "Bearer ";
    const bool bearer = header.size() >= prefix.size() && header.compare(0, prefix.size(), prefix) == 0;
    if (!bearer || !same_key(std::string_view(header).substr(prefix.size()), options.api_key))
      throw ApiError(401, bearer ? "incorrect API key" : "an API key is required (Authorization: Bearer KEY)", {},
                     "invalid_api_key");
  }

  // Runs `handle` for an endpoint, turning what it throws into OpenAI's error objects and
  // counting the answer's status in the metrics.
  template <typename Handle>
  void guarded(const std::string& endpoint, const httplib::Request& req, httplib::Response& res, Handle handle) {
    try {
      authorize(req);
      handle(res);
    } catch (const ApiError& e) {
      send_error(res, e);
    } catch (const Error& e) {
      send_error(res, ApiError(500, e.what()));
    } catch (const std::exception& e) {
      send_error(res, ApiError(500, std::string("internal error: ") + e.what()));
    }
    metrics.request(endpoint, res.status);
  }

  // POST endpoints that generate: admission errors answer with their status; an admitted reply
  // either completes at once or streams as server-sent events.
  template <typename Admit>
  void generation(const std::string& endpoint, Admit admit) {
    http.Post(endpoint, [this, endpoint, admit](const httplib::Request& req, httplib::Response& res) {
      guarded(endpoint, req, res, [&](httplib::Response& r) {
        std::shared_ptr<Reply> reply = admit(parse_body(req));
        if (!reply->streaming()) {
          send_json(r, 200, reply->complete());
          return;
        }
        r.status = 200;
        r.set_header("Cache-Control", "no-cache");
        r.set_header("X-Accel-Buffering", "no");  // proxies: pass events on as they come
        r.set_chunked_content_provider("text/event-stream", [this, reply](size_t, httplib::DataSink& sink) {
          bool connected = true;
          reply->stream([&](std::string_view text) {
            connected = connected && sink.write(text.data(), text.size());
            return connected;
          });
          if (connected) {
            sink.done();
          } else {
            metrics.disconnect();
          }
          return connected;
        });
      });
    });
  }

  void routes() {
    generation("/v1/chat/completions", [this](const nlohmann::json& body) { return service.chat_completions(body); });
    generation("/v1/responses", [this](const nlohmann::json& body) { return service.responses(body); });
    generation("/v1/completions", [this](const nlohmann::json& body) { return service.completions(body); });
    http.Get("/v1/models", [this](const httplib::Request& req, httplib::Response& res) {
      guarded("/v1/models", req, res, [&](httplib::Response& r) { send_json(r, 200, service.models()); });
    });
    http.Get(R"(/v1/models/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
      guarded("/v1/models/{id}", req, res,
              [&](httplib::Response& r) { send_json(r, 200, service.model(req.matches[1].str())); });
    });
    http.Get(R"(/v1/responses/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      guarded("/v1/responses/{id}", req, res,
              [&](httplib::Response& r) { send_json(r, 200, service.stored_response(req.matches[1].str())); });
    });
    http.Delete(R"(/v1/responses/([^/]+))", [this](const httplib::Request& req, httplib::Response& res) {
      guarded("/v1/responses/{id}", req, res,
              [&](httplib::Response& r) { send_json(r, 200, service.delete_response(req.matches[1].str())); });
    });
    // Health checks need no key: load balancers probe without one.
    http.Get("/health", [this](const httplib::Request&, httplib::Response& res) {
      if (engine.draining())
        send_json(res, 503, {{"status", "draining"}});
      else
        send_json(res, 200, {{"status", "ok"}});
    });
    http.Get("/metrics", [this](const httplib::Request& req, httplib::Response& res) {
      guarded("/metrics", req, res, [&](httplib::Response& r) {
        r.status = 200;
        r.set_content(metrics.render(engine.counters(), engine.in_flight()), "text/plain; version=0.0.4");
      });
    });
    // Whatever else went wrong before a handler ran (no route, a body over the limit, a
    // malformed request line) still answers in OpenAI's shape.
    http.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
      if (!res.body.empty()) return;
      if (res.status == 404)
        send_json(res, 404, ApiError(404, "no route " + req.method + " " + req.path, {}, "not_found").body());
      else if (res.status == 413)
        send_json(res, 413, ApiError(413, "the request body is over the server's size limit", {}, "request_too_large").body());
      else
        send_json(res, res.status, ApiError(res.status, "the request could not be read").body());
    });
    http.set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
      send_json(res, 500, ApiError(500, "internal error").body());
    });
  }
};

HttpServer::HttpServer(ApiService& service, Engine& engine, Metrics& metrics, HttpOptions options)
    : impl_(std::make_unique<Impl>(service, engine, metrics, std::move(options))) {
  auto& http = impl_->http;
  const int threads = impl_->options.threads;
  http.new_task_queue = [threads] { return new httplib::ThreadPool(static_cast<size_t>(threads)); };
  http.set_payload_max_length(impl_->options.max_body_bytes);
  http.set_keep_alive_max_count(1000);
  http.set_read_timeout(60, 0);
  impl_->routes();
}

HttpServer::~HttpServer() = default;

int HttpServer::bind() {
  auto& o = impl_->options;
  impl_->port = o.port == 0 ? impl_->http.bind_to_any_port(o.host) : (impl_->http.bind_to_port(o.host, o.port) ? o.port : -1);
  if (impl_->port < 0) throw Error("serve: cannot listen on " + o.host + ":" + std::to_string(o.port) + " (in use, or not an address of this machine)");
  return impl_->port;
}

void HttpServer::run() { impl_->http.listen_after_bind(); }

void HttpServer::stop() {
  impl_->engine.begin_drain();
  impl_->engine.wait_idle();
  impl_->http.stop();
}

}  // namespace gptoss::server
