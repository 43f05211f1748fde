// gptoss chat: an interactive conversation (gptoss::Chat) on the terminal.
#include <cstdio>
#include <iostream>

#include "gptoss/chat.h"
#include "gptoss/error.h"
#include "tools/generation_flags.h"
#include "tools/interrupt.h"
#include "tools/tool.h"

namespace gptoss::tools {

namespace {

// Streams the answer until it ends or Ctrl-C (checked between tokens, and between layers while
// the prompt is computed).
void answer(Chat& chat, const std::string& question, bool show_reasoning) {
  CompletionPrinter printer(show_reasoning);
  clear_interrupt();
  try {
    chat.ask(question);
  } catch (const Interrupted&) {  // during the prompt: the question leaves no trace
    std::printf("(stopped)\n");
    return;
  }
  try {
    while (!interrupted()) {
      const auto token = chat.next();
      if (!token) break;
      printer.print(chat.text(*token));
    }
  } catch (const Interrupted&) {
  }
  printer.finish(chat.finish_text());
  if (interrupted()) {
    chat.abandon();
    std::printf("(stopped)\n");
    return;
  }
  const bool full = chat.finish_reason() == FinishReason::context_full;
  chat.finish();
  if (full) std::printf("(the context is full: /reset, or start with --max-kv-size N)\n");
}

void run(GenerationFlags& flags) {
  const LoadedChatModel loaded = load_model_and_tokenizer(flags.model, flags.device);
  finish_generation_flags(flags, *loaded.tokenizer);
  ChatOptions options;
  options.system = system_content(flags);
  options.developer = flags.developer;
  options.generation = flags.generation;
  options.max_kv_size = flags.max_kv_size;
  options.kv = kv_options(flags.device, *loaded.model);
  options.should_stop = interrupted;
  Chat chat(*loaded.model, *loaded.tokenizer, options);
  catch_interrupts();
  std::printf("gptoss chat — /reset clears the conversation, /effort low|medium|high, /system TEXT;\n"
              "Ctrl-C stops an answer, Ctrl-D leaves.\n");
  for (;;) {
    std::printf(">> ");
    std::fflush(stdout);
    std::string line;
    clear_interrupt();
    if (!std::getline(std::cin, line)) {
      if (interrupted()) {  // Ctrl-C at the prompt (the read failed with EINTR): a fresh line
        std::cin.clear();
        std::clearerr(stdin);
        std::printf("\n");
        continue;
      }
      std::printf("\n");
      return;  // Ctrl-D
    }
    try {
      if (line == "/reset") {
        chat.reset();
        std::printf("(conversation cleared)\n");
      } else if (line.rfind("/effort ", 0) == 0) {
        chat.system().reasoning_effort = reasoning_effort(line.substr(8));
        std::printf("(reasoning effort: %s)\n", line.substr(8).c_str());
      } else if (line.rfind("/system ", 0) == 0) {
        chat.system().identity = line.substr(8);
        std::printf("(system identity set)\n");
      } else if (!line.empty() && line[0] == '/') {
        std::printf("(unknown command %s: /reset, /effort low|medium|high, /system TEXT)\n", line.c_str());
      } else if (!line.empty()) {
        answer(chat, line, flags.show_reasoning);
      }
    } catch (const Error& e) {  // a bad command or an unusable turn: say so, keep the REPL
      std::printf("error: %s\n", e.what());
    }
  }
}

}  // namespace

void add_chat_command(CLI::App& app) {
  auto a = std::make_shared<GenerationFlags>();
  CLI::App* cmd = app.add_subcommand("chat", "Chat interactively (history kept, Ctrl-C stops an answer)");
  add_generation_flags(cmd, *a, 4096);
  cmd->callback([a] { run(*a); });
}

}  // namespace gptoss::tools
