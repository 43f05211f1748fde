// A context that records forward passes (the CUDA backend's graphs) replays the ops of the first
// run with a shape for every later run with that shape, without calling the forward pass again.
// So the shape the forward pass gives ExecutionContext::run_ops must cover everything its ops'
// arguments depend on besides the batch's indices. This test runs the CPU backend behind a
// checking wrapper whose context logs every op's arguments (buffers, weights, cache views, sizes)
// and, when a shape comes back, demands the same log — across decode steps whose block tables
// grow, a prefill after decoding (a chat's next turn) and two sequences decoding together.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "backend/registry.h"
#include "gptoss/gptoss.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

// The ops of one run, as text: op name and every argument a recording would bake in.
class CheckingContext final : public ExecutionContext {
 public:
  explicit CheckingContext(std::unique_ptr<ExecutionContext> inner) : inner_(std::move(inner)) {}
  void begin_batch(const BatchLayout& layout) override { inner_->begin_batch(layout); }
  Stream& stream() override { return inner_->stream(); }
  void run_ops(uint64_t shape, const std::function<void()>& queue) override {
    log_.str("");
    queue();
    const auto [it, first] = recorded_.try_emplace(shape, log_.str());
    if (!first) {
      ++replays_;
      EXPECT_EQ(log_.str(), it->second) << "a recording of shape " << shape
                                        << " would replay ops with other arguments than this run's";
    }
  }
  std::ostringstream& log() { return log_; }
  ExecutionContext& inner() { return *inner_; }
  static int replays_;  // shapes that came back, over all contexts

 private:
  std::unique_ptr<ExecutionContext> inner_;
  std::ostringstream log_;
  std::map<uint64_t, std::string> recorded_;
};
int CheckingContext::replays_ = 0;

std::ostream& operator<<(std::ostream& o, const Activations& a) { return o << a.data << ':' << a.rows << 'x' << a.cols << ' '; }
std::ostream& operator<<(std::ostream& o, const Matrix& m) { return o << static_cast<const void*>(m.weight) << ' '; }
std::ostream& operator<<(std::ostream& o, const Vector& v) { return o << v.data << ' '; }
std::ostream& operator<<(std::ostream& o, const KvLayerView& c) {
  return o << c.keys << ' ' << c.values << ' ' << c.blocks << ' ' << c.block_tokens << ' ' << c.group << ' ';
}

// The CPU backend, logging each op's arguments into the checking context before running it.
class CheckingBackend final : public Backend {
 public:
  CheckingBackend() : cpu_(make_backend("cpu", {.threads = 2, .precision = "f32"})) {}
  const char* name() const override { return "checking"; }
  double measure_bandwidth_gbs(int threads) override { return cpu_->measure_bandwidth_gbs(threads); }
  Buffer allocate(ElementType dtype, int64_t elements, const char* what) override {
    return cpu_->allocate(dtype, elements, what);
  }
  void copy(const void* from, void* to, int64_t bytes) override { cpu_->copy(from, to, bytes); }
  int64_t available_memory() const override { return cpu_->available_memory(); }
  ModelWeights prepare_weights(const ModelWeights& host) override { return cpu_->prepare_weights(host); }
  std::unique_ptr<ExecutionContext> make_context() override {
    return std::make_unique<CheckingContext>(cpu_->make_context());
  }

  void embed(ExecutionContext& ctx, const Matrix& table, Activations out) override {
    log(ctx) << "embed " << table << out;
    cpu_->embed(inner(ctx), table, out);
  }
  void rmsnorm(ExecutionContext& ctx, Activations x, Vector weight, float eps, Activations out) override {
    log(ctx) << "rmsnorm " << x << weight << eps << ' ' << out;
    cpu_->rmsnorm(inner(ctx), x, weight, eps, out);
  }
  void linear(ExecutionContext& ctx, Activations x, const Matrix& w, Vector bias, Activations y) override {
    log(ctx) << "linear " << x << w << bias << y;
    cpu_->linear(inner(ctx), x, w, bias, y);
  }
  void rope(ExecutionContext& ctx, Activations x, int heads, int head_dim, const RopeParameters& rope) override {
    log(ctx) << "rope " << x << heads << ' ' << head_dim << ' ';
    cpu_->rope(inner(ctx), x, heads, head_dim, rope);
  }
  void attention(ExecutionContext& ctx, Activations q, Activations k, Activations v, const KvLayerView& cache,
                 const AttentionParameters& params, Activations out) override {
    log(ctx) << "attention " << q << k << v << cache << params.window << ' ' << params.sinks << out;
    cpu_->attention(inner(ctx), q, k, v, cache, params, out);
  }
  void moe(ExecutionContext& ctx, Activations x, const MoeWeights& w, const MoeParameters& params,
           Activations out) override {
    log(ctx) << "moe " << x << w.router << w.gate << w.up << w.down << params.experts << ' ' << out;
    cpu_->moe(inner(ctx), x, w, params, out);
  }
  void add(ExecutionContext& ctx, Activations x, Activations delta) override {
    log(ctx) << "add " << x << delta;
    cpu_->add(inner(ctx), x, delta);
  }
  void gather_output_rows(ExecutionContext& ctx, Activations x, Activations out) override {
    log(ctx) << "gather " << x << out;
    cpu_->gather_output_rows(inner(ctx), x, out);
  }
  void sample(ExecutionContext& ctx, Activations logits, std::span<const SampleRequest> requests,
              std::span<SampleResult> results) override {
    cpu_->sample(inner(ctx), logits, requests, results);
  }
  void read_logits(ExecutionContext& ctx, Activations logits, float* host) override {
    cpu_->read_logits(inner(ctx), logits, host);
  }

 private:
  static std::ostringstream& log(ExecutionContext& ctx) { return static_cast<CheckingContext&>(ctx).log(); }
  static ExecutionContext& inner(ExecutionContext& ctx) { return static_cast<CheckingContext&>(ctx).inner(); }
  std::unique_ptr<Backend> cpu_;
};

std::unique_ptr<Model> checking_model() {
  // Below the CPU's priority: "auto" never picks it.
  register_backend({.name = "checking",
                    .priority = -100,
                    .available = [] { return true; },
                    .make = [](const BackendOptions&) -> std::unique_ptr<Backend> {
                      return std::make_unique<CheckingBackend>();
                    }});
  return Model::load(test::tiny_model_dir(), {.device = "checking", .precision = "f32"});
}

std::vector<int32_t> tokens(size_t n) {
  std::vector<int32_t> t(n);
  for (size_t i = 0; i < n; ++i) t[i] = static_cast<int32_t>((i * 7919 + 13) % 200000);
  return t;
}

TEST(RecordedRuns, ShapeCoversEveryArgumentAcrossDecodeStepsTurnsAndSequences) {
  const auto model = checking_model();
  const std::vector<int32_t> ids = tokens(700);
  const int replays_before = CheckingContext::replays_;
  // One sequence: a prefill, decode steps across block boundaries, a prefill chunk after
  // decoding (a chat's next turn), more decode steps.
  Session session(*model, {.max_sequences = 2, .context_length = 2000, .kv = {.precision = KvPrecision::f32}});
  SequenceInput input{0, {ids.data(), 250}, LogitsWanted::last};
  session.forward({&input, 1});
  for (size_t p = 250; p < 300; ++p) {
    input = {0, {&ids[p], 1}, LogitsWanted::last};
    session.forward({&input, 1});
  }
  input = {0, {ids.data() + 300, 300}, LogitsWanted::last};
  session.forward({&input, 1});
  // Two sequences decoding together, then one alone again.
  SequenceInput other{1, {ids.data(), 40}, LogitsWanted::last};
  session.forward({&other, 1});
  for (size_t p = 600; p < 640; ++p) {
    const SequenceInput both[] = {{0, {&ids[p], 1}, LogitsWanted::last}, {1, {&ids[p - 560], 1}, LogitsWanted::last}};
    session.forward(both);
  }
  for (size_t p = 640; p < 660; ++p) {
    input = {0, {&ids[p], 1}, LogitsWanted::last};
    session.forward({&input, 1});
  }
  // The check means something only if shapes did come back.
  EXPECT_GT(CheckingContext::replays_ - replays_before, 50);
}

}  // namespace
}  // namespace gptoss
