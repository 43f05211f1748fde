#include "gptoss/session.h"

#include <algorithm>
#include <set>

#include "gptoss/error.h"
#include "model/forward.h"
#include "model/loaded_model.h"
#include "runtime/batch_builder.h"
#include "runtime/kv_layers.h"
#include "runtime/kv_pool.h"
#include "runtime/sequence_kv.h"

namespace gptoss {

KvPrecision parse_kv_precision(const std::string& name) {
  if (name == "bf16") return KvPrecision::bf16;
  if (name == "f32") return KvPrecision::f32;
  throw Error("KV precision '" + name + "': use bf16 or f32");
}

struct Session::State {
  State(const LoadedModel& m, const SessionOptions& o)
      : model(m),
        options(o),
        pool(m.backend(), m.config(),
             // One forward call may hold every sequence's whole context.
             pool_options(m.config(), o.kv, o.max_kv_size, o.max_sequences, o.max_sequences * o.context_length,
                          o.context_length, o.rollback, m.backend())),
        layers(pool),
        forward(m.config(), m.device_weights(), m.backend(), m.op_profile()) {
    for (int s = 0; s < o.max_sequences; ++s) sequences.emplace_back(pool);
  }

  const LoadedModel& model;
  SessionOptions options;
  KvPool pool;
  PoolLayers layers;
  ForwardPass forward;
  std::vector<SequenceKv> sequences;
  BatchBuilder batch;
};

Session::Session(const Model& model, const SessionOptions& options) {
  if (options.max_sequences <= 0) throw Error("max_sequences must be positive");
  if (options.context_length <= 0) throw Error("context_length must be positive");
  if (options.max_kv_size < 0 || options.rollback < 0) throw Error("max_kv_size and rollback must not be negative");
  state_ = std::make_unique<State>(loaded(model), options);
}

Session::~Session() = default;

namespace {

void validate(std::span<const SequenceInput> inputs, const std::vector<SequenceKv>& sequences,
              const SessionOptions& options, int vocab) {
  std::set<int> seen;
  for (const SequenceInput& in : inputs) {
    const std::string who = "sequence " + std::to_string(in.sequence);
    if (in.sequence < 0 || in.sequence >= static_cast<int>(sequences.size()))
      throw Error(who + ": no such sequence (the session holds " + std::to_string(sequences.size()) + ")");
    if (!seen.insert(in.sequence).second) throw Error(who + ": listed twice in one batch");
    if (in.tokens.empty() && in.logits != LogitsWanted::none) throw Error(who + ": no tokens to compute logits for");
    for (size_t i = 0; i < in.tokens.size(); ++i)
      if (in.tokens[i] < 0 || in.tokens[i] >= vocab)
        throw Error(who + ": token id " + std::to_string(in.tokens[i]) + " at index " + std::to_string(i) +
                    " is outside the vocabulary (size " + std::to_string(vocab) + ")");
    const int64_t held = sequences[static_cast<size_t>(in.sequence)].length();
    const int64_t end = held + static_cast<int64_t>(in.tokens.size());
    if (end > (options.max_kv_size > 0 ? INT32_MAX : options.context_length))
      throw Error(who + ": " + std::to_string(held) + " cached + " + std::to_string(in.tokens.size()) +
                  " new tokens exceed the context length of " + std::to_string(options.context_length));
  }
}

}  // namespace

Logits Session::forward(std::span<const SequenceInput> inputs, HiddenStateObserver* observer) {
  State& s = *state_;
  const ModelConfig& config = s.model.config();
  validate(inputs, s.sequences, s.options, config.vocab_size);

  for (const SequenceInput& in : inputs) {
    SequenceKv& kv = s.sequences[static_cast<size_t>(in.sequence)];
    if (!kv.reserve(kv.length() + static_cast<int32_t>(in.tokens.size())))
      throw Error("sequence " + std::to_string(in.sequence) + ": the KV pool has no room for " +
                  std::to_string(in.tokens.size()) + " more tokens (raise the KV memory)");
  }
  s.batch.clear();
  for (const SequenceInput& in : inputs) {
    const SequenceKv& kv = s.sequences[static_cast<size_t>(in.sequence)];
    s.batch.add(kv, kv.length(), in.tokens, in.logits);
  }

  Logits logits;
  logits.rows = static_cast<int64_t>(s.batch.layout().output_rows.size());
  logits.vocab = config.vocab_size;
  logits.values.resize(static_cast<size_t>(logits.rows * logits.vocab));
  if (s.batch.rows() > 0) {
    const Activations out = s.forward.run(s.batch.layout(), s.layers, observer, s.options.should_stop);
    if (logits.rows > 0) s.model.backend().read_logits(s.forward.context(), out, logits.values.data());
  }
  for (const SequenceInput& in : inputs) {
    SequenceKv& kv = s.sequences[static_cast<size_t>(in.sequence)];
    kv.commit(kv.length() + static_cast<int32_t>(in.tokens.size()), in.tokens);
  }
  return logits;
}

int Session::position(int sequence) const {
  if (sequence < 0 || sequence >= max_sequences()) throw Error("sequence " + std::to_string(sequence) + ": no such sequence");
  return state_->sequences[static_cast<size_t>(sequence)].length();
}

void Session::reset(int sequence) {
  position(sequence);  // checks the index
  state_->sequences[static_cast<size_t>(sequence)].release();
}

bool Session::truncate(int sequence, int position) {
  const int current = this->position(sequence);
  if (position < 0 || position > current)
    throw Error("truncate: position " + std::to_string(position) + " is outside 0.." + std::to_string(current));
  return state_->sequences[static_cast<size_t>(sequence)].truncate(position);
}

int Session::context_length() const { return state_->options.context_length; }
int Session::max_kv_size() const { return state_->options.max_kv_size; }
int Session::max_sequences() const { return state_->options.max_sequences; }
const Model& Session::model() const { return state_->model; }

}  // namespace gptoss
