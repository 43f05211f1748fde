// gptoss logits: the float32 logits of every position of a token sequence.
#include <algorithm>
#include <cstdio>
#include <numeric>

#include "gptoss/gptoss.h"
#include "io/safetensors_writer.h"
#include "tools/device_flags.h"
#include "tools/model_directory.h"
#include "tools/tool.h"

namespace gptoss::tools {

namespace {

struct LogitsOptions {
  std::string model;
  std::string tokens;
  std::string out;
  int context = 0;
  DeviceFlags device{.kv_dtype = "f32"};  // this command is for checking logits: exact by default
};

void print_top5(const Logits& logits) {
  const float* last = logits.row(logits.rows - 1);
  std::vector<int32_t> ids(static_cast<size_t>(logits.vocab));
  std::iota(ids.begin(), ids.end(), 0);
  std::partial_sort(ids.begin(), ids.begin() + 5, ids.end(),
                    [&](int32_t a, int32_t b) { return last[a] > last[b] || (last[a] == last[b] && a < b); });
  std::printf("top 5 next-token logits after the last position:\n");
  for (int i = 0; i < 5; ++i) std::printf("  %8d  %.6f\n", ids[static_cast<size_t>(i)], last[ids[static_cast<size_t>(i)]]);
}

void run(const LogitsOptions& o) {
  const std::vector<int32_t> tokens = parse_token_list(o.tokens);
  const auto model = Model::load(model_directory(o.model), load_options(o.device));
  const int context = o.context > 0 ? o.context : static_cast<int>(tokens.size());
  Session session(*model, {.max_sequences = 1, .context_length = context, .kv = kv_options(o.device, *model)});
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
  cmd->add_option("-c,--ctx", options->context, "Context length to reserve (default: the number of tokens)");
  add_device_flags(cmd, options->device);
  add_kv_flags(cmd, options->device);
  cmd->callback([options] { run(*options); });
}

}  // namespace gptoss::tools
