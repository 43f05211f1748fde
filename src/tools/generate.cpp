// gptoss generate: one answer to a prompt, streamed, like `mlx_lm generate`.
#include <cstdio>
#include <iostream>
#include <iterator>

#include "gptoss/error.h"
#include "runtime/peak_memory.h"
#include "tools/generation_flags.h"
#include "tools/interrupt.h"
#include "tools/resource_flags.h"
#include "tools/tool.h"

namespace gptoss::tools {

namespace {

struct GenerateArgs {
  GenerationFlags flags;
  std::string prompt;
  std::string prompt_tokens;
  bool raw = false;
  std::string verbose = "true";
  int context = 0;
};

bool parse_bool(const std::string& flag, const std::string& value) {
  if (value == "true" || value == "True" || value == "T" || value == "1") return true;
  if (value == "false" || value == "False" || value == "F" || value == "0") return false;
  throw Error(flag + ": '" + value + "' (use true or false)");
}

// The prompt ids: --prompt-tokens as given; --raw text as it is (special-token strings
// recognized); otherwise a harmony conversation ending with `<|start|>assistant`.
std::vector<int32_t> prompt_ids(const GenerateArgs& a, const Tokenizer& tokenizer) {
  if (!a.prompt_tokens.empty()) return parse_token_list(a.prompt_tokens);
  std::string text = a.prompt;
  if (text == "-") text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  if (text.empty()) throw Error("--prompt: empty (give text, '-' for standard input, or --prompt-tokens)");
  if (a.raw) return tokenizer.encode(text, true);
  harmony::Conversation conversation = {harmony::Message::system(system_content(a.flags))};
  if (!a.flags.developer.empty()) conversation.push_back(harmony::Message::developer({a.flags.developer, {}}));
  conversation.push_back(harmony::Message::user(text));
  return harmony::render_for_completion(tokenizer, conversation);
}

void run(GenerateArgs& a) {
  const bool verbose = parse_bool("--verbose", a.verbose);
  if (a.prompt.empty() && a.prompt_tokens.empty()) throw Error("give --prompt TEXT (or -) or --prompt-tokens IDS");
  catch_interrupts();  // from here on Ctrl-C stops the work at the next layer or token
  const LoadedChatModel loaded = load_model_and_tokenizer(a.flags.model, a.flags.device);
  finish_generation_flags(a.flags, *loaded.tokenizer);
  const std::vector<int32_t> prompt = prompt_ids(a, *loaded.tokenizer);
  const bool harmony_output = !a.raw && a.prompt_tokens.empty();
  a.flags.generation.stop_tokens =
      harmony_output ? harmony::stop_tokens(*loaded.tokenizer) : eos_token_ids(*loaded.model);

  const int context = a.context > 0 ? a.context : loaded.model->config().max_position_embeddings;
  Scheduler scheduler(*loaded.model, {.max_running = 1,
                                      .context_length = context,
                                      .max_kv_size = a.flags.max_kv_size,
                                      .kv = kv_options(a.flags.device, *loaded.model),
                                      .prefix_cache = false,
                                      .should_stop = interrupted});
  Generator generator(scheduler, a.flags.generation);
  TextStream stream(*loaded.tokenizer, harmony_output);
  CompletionPrinter printer(a.flags.show_reasoning || !harmony_output);
  if (verbose) std::printf("==========\n");
  generator.start(prompt);
  while (const auto token = generator.next()) {
    if (interrupted()) throw Interrupted();
    // A stop token ends the answer; as plain text it is not part of it.
    if (generator.finish_reason() == FinishReason::stop && !stream.harmony()) break;
    printer.print(stream.feed(*token));
  }
  printer.finish(stream.finish());
  if (!verbose) return;
  const GenerationStats s = generator.stats();
  std::printf("==========\n");
  std::printf("Prompt: %d tokens, %.3f tokens-per-sec\n", s.prompt_tokens, s.prompt_tps());
  std::printf("Generation: %d tokens, %.3f tokens-per-sec\n", s.generation_tokens, s.generation_tps());
  std::printf("Time to first token: %.3f s\n", s.time_to_first_token);
  std::printf("Peak memory: %.3f GB\n", peak_resident_gb());
  if (generator.finish_reason() == FinishReason::context_full)
    std::fprintf(stderr, "stopped: the context of %d tokens is full (--max-kv-size N keeps going with a rotating cache)\n",
                 scheduler.context_length());
}

}  // namespace

void add_generate_command(CLI::App& app) {
  auto a = std::make_shared<GenerateArgs>();
  CLI::App* cmd = app.add_subcommand("generate", "Generate an answer to a prompt, streaming it (like mlx_lm generate)");
  add_generation_flags(cmd, a->flags, 100);
  cmd->add_option("-p,--prompt", a->prompt, "The prompt; '-' reads standard input");
  cmd->add_option("--prompt-tokens", a->prompt_tokens, "The prompt as token ids (1,2,3), used as they are");
  cmd->add_flag("--raw", a->raw, "Continue the prompt as plain text, without the chat format");
  cmd->add_option("--verbose", a->verbose, "false: print only the generated text")->capture_default_str();
  add_positive_flag(cmd, "-c,--ctx", a->context, "Context length (default: the model's, 131072 for gpt-oss)");
  cmd->callback([a] { run(*a); });
}

}  // namespace gptoss::tools
