// The HTTP side of `gptoss serve` on cpp-httplib: routes, the API key, the body size limit,
// OpenAI-shaped errors for everything refused, server-sent events for streams, and a graceful
// stop that lets running answers finish.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "server/api_service.h"

namespace gptoss::server {

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8080;                     // 0: a free port, chosen when bound
  std::string api_key;                 // empty: no key asked for
  size_t max_body_bytes = 32u << 20;   // larger request bodies get 413
  int threads = 256;                   // connections served at once (each stream holds one)
};

class HttpServer {
 public:
  HttpServer(ApiService& service, Engine& engine, Metrics& metrics, HttpOptions options);
  ~HttpServer();

  // Binds the address; returns the port. Throws gptoss::Error when it cannot.
  int bind();
  // Serves until stop(). Returns once the listening socket is closed.
  void run();
  // Refuses new generations (503), waits for the running ones to end, then stops run().
  // Callable from any thread (a signal-waiting one).
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gptoss::server
