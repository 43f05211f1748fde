// gptoss perplexity: perplexity of a model on a text file under a stated protocol, and the KL
// divergence of its next-token distributions from a base model's (docs/EVALUATION.md).
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "eval/documents.h"
#include "eval/kl_divergence.h"
#include "eval/perplexity.h"
#include "eval/statistics.h"
#include "eval/token_stream.h"
#include "gptoss/gptoss.h"
#include "tools/device_flags.h"
#include "tools/interrupt.h"
#include "tools/model_directory.h"
#include "tools/resource_flags.h"
#include "tools/tool.h"

namespace gptoss::tools {

namespace {

struct PerplexityArgs {
  std::string model, data, format, eos_token, save_logits, kl_base;
  int window = 4096, stride = 0, context = 0, top_k = 32;
  DeviceFlags device{.kv_dtype = "f32"};  // an evaluation measures: exact keys and values by default
  int64_t max_tokens = 100000, chunks = 0;
  bool eos_between_docs = false, parse_special = false, json = false;
  bool llama_cpp = false;  // --ctx given: llama-perplexity's protocol
  EvaluationOptions evaluation;  // batch sizes from the flags; the rest is set by run()
};

// What is evaluated: the token stream, its windows, and how they were made.
struct Plan {
  DocumentFormat format = DocumentFormat::wikitext;
  size_t documents = 0;
  std::optional<int32_t> eos;
  std::vector<int32_t> tokens;
  std::vector<Window> windows;
  EvaluationIdentity identity;
};

// Running perplexity, tokens and speed on stderr, redrawn at most ten times a second, only on a
// terminal. (ProgressBar shows no running value; this line does.)
class RunningPerplexity {
 public:
  void update(const EvaluationProgress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (!enabled_ || p.scored == 0 || (drawn_ && now - last_ < std::chrono::milliseconds(100))) return;
    last_ = now;
    drawn_ = true;
    const double seconds = std::chrono::duration<double>(now - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(p.tokens_done) / seconds : 0;
    const double eta = rate > 0 ? static_cast<double>(p.tokens_total - p.tokens_done) / rate : 0;
    std::fprintf(stderr, "\rperplexity %3.0f%% %lld/%lld tokens, %.0f tok/s, PPL %.4f, ETA %.0fs \x1b[K",
                 100.0 * static_cast<double>(p.tokens_done) / static_cast<double>(p.tokens_total),
                 static_cast<long long>(p.tokens_done), static_cast<long long>(p.tokens_total), rate,
                 std::exp(p.nll_sum / static_cast<double>(p.scored)), eta);
    std::fflush(stderr);
  }
  void finish() {
    if (drawn_) std::fprintf(stderr, "\r\x1b[K");
  }

 private:
  bool enabled_ = ::isatty(2) != 0;
  bool drawn_ = false;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), last_;
};

void check_against_model(const PerplexityArgs& a, const Model& model) {
  const int context = model.config().max_position_embeddings;
  const int longest = a.llama_cpp ? a.context : a.window;
  if (longest > context)
    throw Error(std::string(a.llama_cpp ? "--ctx " : "--window ") + std::to_string(longest) +
                " is longer than the model's context (max_position_embeddings " + std::to_string(context) + ")");
}

std::optional<int32_t> separator(const PerplexityArgs& a, const Model& model, const Tokenizer& tokenizer) {
  if (!a.eos_between_docs) return std::nullopt;
  if (!a.eos_token.empty()) {
    const auto id = tokenizer.special_token(a.eos_token);
    if (!id) throw Error("--eos-token '" + a.eos_token + "' is not a special token of " + a.model + "'s tokenizer");
    return id;
  }
  const auto& eos = model.config().eos_token_ids;
  if (eos.empty())
    throw Error(a.model + "/config.json: no eos_token_id for --eos-between-docs; name one with --eos-token");
  return eos.front();
}

Plan make_plan(const PerplexityArgs& a, const Model& model, const Tokenizer& tokenizer,
               const std::vector<std::string>& documents, DocumentFormat format) {
  Plan plan;
  plan.format = format;
  plan.documents = documents.size();
  plan.eos = separator(a, model, tokenizer);
  plan.tokens = build_token_stream(tokenizer, documents, {plan.eos, a.parse_special, a.max_tokens});
  const auto n = static_cast<int64_t>(plan.tokens.size());
  plan.windows = a.llama_cpp ? llama_cpp_chunks(n, a.context, a.chunks) : strided_windows(n, a.window, a.stride);
  plan.identity = {model.config().vocab_size, evaluation_fingerprint(plan.tokens, plan.windows),
                   a.llama_cpp ? "llama.cpp chunks of " + std::to_string(a.context)
                               : "windows of " + std::to_string(a.window) + ", stride " + std::to_string(a.stride)};
  return plan;
}

// A finished evaluation, as reported.
struct Report {
  Plan plan;
  Evaluation evaluation;
  std::optional<KlSummary> kl;
  int base_top_k = 0;
};

nlohmann::json kl_json(const KlSummary& s) {
  return {{"tokens", s.tokens},
          {"mean", s.kl.mean},
          {"mean_error", s.kl.error},
          {"median", s.kl_median},
          {"p99", s.kl_p99},
          {"max", s.kl_max},
          {"same_top", s.same_top.mean},
          {"same_top_error", s.same_top.error},
          {"base_ppl", s.base_ppl.mean},
          {"base_ppl_error", s.base_ppl.error},
          {"ppl_difference", s.ppl_difference.mean},
          {"ppl_difference_error", s.ppl_difference.error},
          {"ppl_ratio", s.ppl_ratio.mean},
          {"ppl_ratio_error", s.ppl_ratio.error}};
}

void print_json(const PerplexityArgs& a, const Tokenizer& tokenizer, const Report& r) {
  const Evaluation& e = r.evaluation;
  const MeanAndError ppl = perplexity_of(e.nll);
  nlohmann::json j = {
      {"model", a.model},
      {"data", a.data},
      {"format", document_format_name(r.plan.format)},
      {"documents", r.plan.documents},
      {"eos_token", r.plan.eos ? nlohmann::json(tokenizer.token_bytes(*r.plan.eos)) : nlohmann::json()},
      {"tokens", r.plan.tokens.size()},
      {"protocol", r.plan.identity.protocol},
      {"window", a.llama_cpp ? a.context : a.window},
      {"stride", a.llama_cpp ? a.context : a.stride},
      {"ppl", ppl.mean},
      {"ppl_error", ppl.error},
      {"mean_nll", mean_and_error(e.nll).mean},
      {"tokens_scored", e.nll.size()},
      {"windows", r.plan.windows.size()},
      {"tokens_evaluated", e.tokens_evaluated},
      {"seconds", e.seconds},
      {"tokens_per_second", static_cast<double>(e.tokens_evaluated) / e.seconds}};
  if (!a.save_logits.empty()) j["saved_logits"] = {{"file", a.save_logits}, {"top_k", a.top_k}};
  if (r.kl) j["kl_divergence"] = kl_json(*r.kl);
  if (r.kl) j["kl_divergence"]["base"] = {{"file", a.kl_base}, {"top_k", r.base_top_k}};
  std::printf("%s\n", j.dump(2).c_str());
}

void print_kl(const PerplexityArgs& a, const Report& r) {
  const KlSummary& s = *r.kl;
  std::printf("KL divergence from %s (its top %d + the rest):\n", a.kl_base.c_str(), r.base_top_k);
  std::printf("  mean      %.6f ± %.6f\n", s.kl.mean, s.kl.error);
  std::printf("  median    %.6f\n", s.kl_median);
  std::printf("  p99       %.6f\n", s.kl_p99);
  std::printf("  max       %.6f\n", s.kl_max);
  std::printf("same top-1  %.3f ± %.3f %%\n", 100 * s.same_top.mean, 100 * s.same_top.error);
  std::printf("PPL(base)   %.4f ± %.4f\n", s.base_ppl.mean, s.base_ppl.error);
  std::printf("PPL − base  %.4f ± %.4f (ratio %.5f ± %.5f)\n", s.ppl_difference.mean, s.ppl_difference.error,
              s.ppl_ratio.mean, s.ppl_ratio.error);
}

void print_text(const PerplexityArgs& a, const Tokenizer& tokenizer, const Report& r) {
  const Evaluation& e = r.evaluation;
  const MeanAndError ppl = perplexity_of(e.nll);
  const std::string eos =
      r.plan.eos ? ", " + std::string(tokenizer.token_bytes(*r.plan.eos)) + " between documents" : "";
  std::printf("model     %s\n", a.model.c_str());
  std::printf("data      %s: %zu documents (%s)%s, %zu tokens\n", a.data.c_str(), r.plan.documents,
              std::string(document_format_name(r.plan.format)).c_str(), eos.c_str(), r.plan.tokens.size());
  std::printf("protocol  %s\n", r.plan.identity.protocol.c_str());
  std::printf("PPL       %.4f ± %.4f\n", ppl.mean, ppl.error);
  std::printf("scored    %zu tokens in %zu windows; %lld tokens evaluated in %.1f s (%.0f tok/s)\n", e.nll.size(),
              r.plan.windows.size(), static_cast<long long>(e.tokens_evaluated), e.seconds,
              static_cast<double>(e.tokens_evaluated) / e.seconds);
  if (!a.save_logits.empty())
    std::printf("saved     top-%d log-probabilities of every scored token to %s\n", a.top_k, a.save_logits.c_str());
  if (r.kl) print_kl(a, r);
}

void run(const PerplexityArgs& a) {
  if (!a.save_logits.empty() && a.top_k < 1) throw Error("--top-k " + std::to_string(a.top_k) + ": must be at least 1");
  if (a.llama_cpp) check_llama_cpp_chunks(a.context);
  else check_strided_windows(a.window, a.stride);
  const DocumentFormat format =
      parse_document_format(!a.format.empty() ? a.format : a.llama_cpp ? "text" : "wikitext");
  const std::vector<std::string> documents = read_documents(a.data, format);
  const std::filesystem::path dir = model_directory(a.model);
  const auto model = Model::load(dir, load_options(a.device));
  check_against_model(a, *model);
  const Tokenizer tokenizer = Tokenizer::load(dir);

  Report r{make_plan(a, *model, tokenizer, documents, format), {}, {}, 0};

  TopLogProbs base;
  if (!a.kl_base.empty()) base = load_top_log_probs(a.kl_base, r.plan.identity);
  RunningPerplexity progress;
  EvaluationOptions options = a.evaluation;
  options.threads = a.device.threads;
  options.kv = kv_options(a.device, *model);
  options.should_stop = interrupted;
  catch_interrupts();
  options.save_top_k = a.save_logits.empty() ? 0 : a.top_k;
  options.base = a.kl_base.empty() ? nullptr : &base;
  options.on_progress = [&](const EvaluationProgress& p) { progress.update(p); };
  r.evaluation = evaluate(*model, r.plan.tokens, r.plan.windows, options);
  progress.finish();

  if (!a.save_logits.empty()) save_top_log_probs(a.save_logits, r.evaluation.top, r.plan.identity);
  if (!a.kl_base.empty()) {
    r.kl = summarize_kl(r.evaluation.kl, r.evaluation.same_top, r.evaluation.nll, base.target_log_prob);
    r.base_top_k = base.top_k;
  }
  if (a.json) print_json(a, tokenizer, r);
  else print_text(a, tokenizer, r);
}

}  // namespace

void add_perplexity_command(CLI::App& app) {
  auto a = std::make_shared<PerplexityArgs>();
  CLI::App* cmd = app.add_subcommand("perplexity", "Perplexity on a text file, and KL divergence from a base model");
  cmd->add_option("-m,--model", a->model, "Model directory (with its tokenizer.json) or Hugging Face repo id")->required();
  cmd->add_option("-f,--data", a->data, "Text file, e.g. WikiText-2's wiki.test.raw")->required();
  cmd->add_option("--format", a->format,
                  "wikitext (documents at ' = Title = ' lines), lines (one per line) or text (the whole file) "
                  "[default: wikitext; text with --ctx]");
  auto* window =
      cmd->add_option("--window", a->window, "Tokens per window, each from an empty context")->capture_default_str();
  auto* stride = cmd->add_option("--stride", a->stride,
                                 "Tokens between window starts; below the window, each window scores only its "
                                 "last stride tokens [default: the window]");
  // halley-ai's MLX table scored ~100k tokens; llama-perplexity reads the whole file.
  auto* max_tokens =
      cmd->add_option("--max-tokens", a->max_tokens,
                      "Evaluate the first N tokens of the data; 0 = all [default: 100000; all with --ctx]");
  cmd->add_flag("--eos-between-docs", a->eos_between_docs, "Put the EOS token between documents");
  cmd->add_option("--eos-token", a->eos_token, "The EOS token's text [default: config.json's eos_token_id]");
  cmd->add_flag("--parse-special", a->parse_special, "Read special-token strings (<|start|>) in the data as tokens");
  auto* ctx = add_positive_flag(cmd, "-c,--ctx", a->context,
                                "llama-perplexity's protocol: chunks of N tokens, each scoring its second half");
  ctx->excludes(window)->excludes(stride);
  cmd->add_option("--chunks", a->chunks, "With --ctx: at most N chunks")->needs(ctx);
  cmd->add_option("-b,--batch-size", a->evaluation.batch_size, "Windows evaluated side by side")->capture_default_str();
  cmd->add_option("--ubatch", a->evaluation.tokens_per_forward,
                  "Tokens per forward call, all windows together (each needs a row of logits: 0.8 MB for gpt-oss)")
      ->capture_default_str();
  auto* save = cmd->add_option("--save-logits", a->save_logits,
                               "Write each scored token's top-K log-probabilities here (for --kl-base)");
  cmd->add_option("--top-k", a->top_k, "Log-probabilities kept per token by --save-logits")
      ->capture_default_str()
      ->needs(save);
  cmd->add_option("--kl-base", a->kl_base,
                  "Compare with a base model's --save-logits file: KL divergence, top-1 agreement, PPL difference");
  add_device_flags(cmd, a->device);
  add_kv_flags(cmd, a->device);
  cmd->add_flag("--json", a->json, "Print JSON");
  cmd->callback([a, ctx, stride, max_tokens] {
    a->llama_cpp = ctx->count() > 0;
    if (stride->count() == 0) a->stride = a->window;
    if (a->llama_cpp && max_tokens->count() == 0) a->max_tokens = 0;
    run(*a);
  });
}

}  // namespace gptoss::tools
