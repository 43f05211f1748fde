// gptoss logits: the float32 logits of every position of a token sequence.
#include <algorithm>
#include <cstdio>
#include <numeric>

#include "gptoss/gptoss.h"
#include "io/safetensors_writer.h"
#include "tools/model_directory.h"
#include "tools/resource_flags.h"
#include "tools/tool.h"

namespace gptoss::tools {

namespace {

struct LogitsOptions {
  std::string model;
  std::string tokens;
  std::string out;
  int context = 0;
  int threads = 0;
};

// The best five, or the whole vocabulary when a (synthetic) model has fewer tokens than that.
void print_top5(const Logits& logits) {
  const float* last = logits.row(logits.rows - 1);
  std::vector<int32_t> ids(static_cast<size_t>(logits.vocab));
  std::iota(ids.begin(), ids.end(), 0);
  const size_t shown = std::min<size_t>(5, ids.size());
  std::partial_sort(ids.begin(), ids.begin() + static_cast<ptrdiff_t>(shown), ids.end(),
                    [&](int32_t a, int32_t b) { return last[a] > last[b] || (last[a] == last[b] && a < b); });
  std::printf("top %zu next-token logits after the last position:\n", shown);
  for (size_t i = 0; i < shown; ++i) std::printf("  %8d  %.6f\n", ids[i], last[ids[i]]);
}

void run(const LogitsOptions& o) {
  const std::vector<int32_t> tokens = parse_token_list(o.tokens);
  const auto model = Model::load(model_directory(o.model), {.backend = "cpu", .threads = o.threads});
  const int context = o.context > 0 ? o.context : static_cast<int>(tokens.size());
  Session session(*model, {.max_sequences = 1, .context_length = context});
  const SequenceInput input{0, tokens, o.out.empty() ? LogitsWanted::last : LogitsWanted::all};
  const Logits logits = session.forward({&input, 1});
  if (o.out.empty()) {
    print_top5(logits);
    return;
  }
  const TensorSpec spec{"logits", DType::F32, {logits.rows, logits.vocab}};
  const auto* bytes = reinterpret_cast<const uint8_t*>(logits.values.data());
  write_safetensors(o.out, {{spec, {bytes, logits.values.size() * sizeof(float)}}}, {{"format", "pt"}});
  std::printf("wrote logits [%lld, %lld] to %s\n", static_cast<long long>(logits.rows),
              static_cast<long long>(logits.vocab), o.out.c_str());
}

}  // namespace

void add_logits_command(CLI::App& app) {
  auto options = std::make_shared<LogitsOptions>();
  CLI::App* cmd = app.add_subcommand("logits", "Print or save the logits of a token sequence");
  cmd->add_option("-m,--model", options->model, "Model directory or Hugging Face repo id")->required();
  cmd->add_option("--tokens", options->tokens, "Comma-separated token ids, e.g. 1,2,3")->required();
  cmd->add_option("--out", options->out, "Write all positions' logits [T, vocab] as tensor 'logits' here");
  add_positive_flag(cmd, "-c,--ctx", options->context, "Context length to reserve (default: the number of tokens)");
  add_threads_flag(cmd, options->threads);
  cmd->callback([options] { run(*options); });
}

}  // namespace gptoss::tools
