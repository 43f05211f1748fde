// gptoss serve: the OpenAI-compatible HTTP server (server/http_server.h) on one model. SIGTERM
// or Ctrl-C drains: new requests get 503 while the running answers finish; a second signal
// leaves at once.
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "gptoss/error.h"
#include "server/http_server.h"
#include "tools/generation_flags.h"
#include "tools/resource_flags.h"
#include "tools/tool.h"

namespace gptoss::tools {

namespace {

struct ServeFlags {
  std::string model;
  std::string model_name;
  DeviceFlags device;
  server::HttpOptions http;
  int max_running = 16;
  int max_queue = 64;
  int context = 0;
  int stored_responses = 1000;
};

// What clients call the model: the directory's name for a local path, the repo id for a
// Hugging Face one (as mlx_lm.server and llama-server report what they were given).
std::string served_name(const std::string& model) {
  const std::filesystem::path path(model);
  if (std::filesystem::is_directory(path)) {
    const auto name = path.lexically_normal().filename().string();
    return name.empty() ? path.lexically_normal().parent_path().filename().string() : name;
  }
  return model;
}

// Blocks SIGINT and SIGTERM in every thread the server starts (they inherit the mask), so that
// only `waiter` receives them, outside any signal handler.
sigset_t block_stop_signals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

void run(const ServeFlags& flags) {
  // Before any thread starts (the model's pool, the scheduler, the HTTP workers).
  const sigset_t signals = block_stop_signals();
  const LoadedChatModel loaded = load_model_and_tokenizer(flags.model, flags.device);
  server::EngineOptions engine_options;
  engine_options.scheduler.max_running = flags.max_running;
  engine_options.scheduler.context_length = flags.context;
  engine_options.scheduler.kv = kv_options(flags.device, *loaded.model);
  engine_options.max_queue = flags.max_queue;
  server::Engine engine(*loaded.model, engine_options);
  server::Metrics metrics;
  server::ServiceOptions service_options;
  service_options.model_id = flags.model_name.empty() ? served_name(flags.model) : flags.model_name;
  service_options.stored_responses = static_cast<size_t>(flags.stored_responses);
  server::ApiService service(engine, *loaded.tokenizer, service_options, metrics);
  server::HttpOptions http = flags.http;
  http.threads = std::max(http.threads, 2 * (flags.max_running + flags.max_queue) + 16);

  server::HttpServer server(service, engine, metrics, http);
  const int port = server.bind();
  std::thread waiter([&] {
    int signal = 0;
    sigwait(&signals, &signal);
    if (signal == 0) return;  // woken by the exit path below
    std::fprintf(stderr, "gptoss serve: draining (%d requests running); a second signal stops at once\n",
                 engine.in_flight());
    std::thread([signals] {
      int again = 0;
      sigwait(&signals, &again);
      std::_Exit(128 + again);
    }).detach();
    server.stop();
  });
  std::printf("gptoss serve: %s (context %d tokens, up to %d running) listening on http://%s:%d/v1\n",
              service_options.model_id.c_str(), engine.context_length(), flags.max_running, http.host.c_str(), port);
  std::fflush(stdout);
  server.run();
  waiter.join();
  std::fprintf(stderr, "gptoss serve: stopped\n");
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto f = std::make_shared<ServeFlags>();
  CLI::App* cmd = app.add_subcommand("serve", "Serve the OpenAI API (chat completions, responses, completions) over HTTP");
  cmd->add_option("-m,--model", f->model, "Model directory or Hugging Face repo id")->required();
  cmd->add_option("--model-name", f->model_name, "The model's name in the API (default: the directory's name)");
  cmd->add_option("--host", f->http.host, "Address to listen on (0.0.0.0 for every interface)")->capture_default_str();
  cmd->add_option("--port", f->http.port, "Port (0: any free one, printed)")->capture_default_str()->check(CLI::Range(0, 65535));
  cmd->add_option("--api-key", f->http.api_key, "Require this key (Authorization: Bearer KEY)")
      ->envname("GPTOSS_API_KEY");
  add_positive_flag(cmd, "--max-running", f->max_running, "Requests generating together (default 16)");
  cmd->add_option("--max-queue", f->max_queue, "Requests waiting beyond which new ones get 429")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  add_positive_flag(cmd, "-c,--ctx", f->context, "Longest request, prompt plus answer (default: the model's)");
  cmd->add_option("--stored-responses", f->stored_responses, "Responses kept for previous_response_id")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 24));
  add_device_flags(cmd, f->device);
  add_kv_flags(cmd, f->device);
  cmd->callback([f] { run(*f); });
}

}  // namespace gptoss::tools
