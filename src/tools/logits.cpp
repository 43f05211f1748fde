// gptoss logits: the float32 logits of every position of a token sequence.
#include <algorithm>
#include <cstdio>
#include <numeric>
#include <span>

#include "gptoss/gptoss.h"
#include "io/safetensors_writer.h"
#include "tools/device_flags.h"
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
  DeviceFlags device{.kv_dtype = "f32"};  // this command is for checking logits: exact by default
  int chunk = 256;  // positions per forward call with --out
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

// All positions' logits [T, vocab], streamed: `chunk` positions go through the model at a time
// and their rows straight to the file, whose header the shape fixes in advance. Holding all
// of them took T × 0.8 MB for gpt-oss (4.7 GB for 6000 tokens).
void write_all_logits(Session& session, const std::vector<int32_t>& tokens, int64_t vocab, int chunk,
                      const std::string& out) {
  const auto rows = static_cast<int64_t>(tokens.size());
  SafetensorsWriter writer(out, {{"logits", DType::F32, {rows, vocab}}}, {{"format", "pt"}});
  for (size_t begin = 0; begin < tokens.size(); begin += static_cast<size_t>(chunk)) {
    const size_t count = std::min(tokens.size() - begin, static_cast<size_t>(chunk));
    const SequenceInput input{0, std::span<const int32_t>(tokens).subspan(begin, count), LogitsWanted::all};
    const Logits logits = session.forward({&input, 1});
    writer.write({reinterpret_cast<const uint8_t*>(logits.values.data()), logits.values.size() * sizeof(float)});
  }
  writer.finish();
  std::printf("wrote logits [%lld, %lld] to %s\n", static_cast<long long>(rows), static_cast<long long>(vocab),
              out.c_str());
}

void run(const LogitsOptions& o) {
  const std::vector<int32_t> tokens = parse_token_list(o.tokens);
  const auto model = Model::load(model_directory(o.model), load_options(o.device));
  const int context = o.context > 0 ? o.context : static_cast<int>(tokens.size());
  Session session(*model, {.max_sequences = 1, .context_length = context, .kv = kv_options(o.device, *model)});
  if (!o.out.empty()) {
    write_all_logits(session, tokens, model->config().vocab_size, o.chunk, o.out);
    return;
  }
  const SequenceInput input{0, tokens, LogitsWanted::last};
  print_top5(session.forward({&input, 1}));
}

}  // namespace

void add_logits_command(CLI::App& app) {
  auto options = std::make_shared<LogitsOptions>();
  CLI::App* cmd = app.add_subcommand("logits", "Print or save the logits of a token sequence");
  cmd->add_option("-m,--model", options->model, "Model directory or Hugging Face repo id")->required();
  cmd->add_option("--tokens", options->tokens, "Comma-separated token ids, e.g. 1,2,3")->required();
  cmd->add_option("--out", options->out, "Write all positions' logits [T, vocab] as tensor 'logits' here");
  add_positive_flag(cmd, "-c,--ctx", options->context, "Context length to reserve (default: the number of tokens)");
  add_device_flags(cmd, options->device);
  add_kv_flags(cmd, options->device);
  add_positive_flag(cmd, "--chunk", options->chunk, "With --out: positions per forward call (each row 4 × vocab bytes)")
      ->capture_default_str();
  cmd->callback([options] { run(*options); });
}

}  // namespace gptoss::tools
