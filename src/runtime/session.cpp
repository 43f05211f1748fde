#include "gptoss/session.h"

#include <algorithm>
#include <set>

#include "gptoss/error.h"
#include "model/forward.h"
#include "model/loaded_model.h"
#include "runtime/kv_cache.h"

namespace gptoss {

struct Session::State {
  State(const LoadedModel& m, const SessionOptions& options)
      : model(m),
        cache(m.backend(), m.config(), options.max_sequences, options.context_length, options.max_kv_size,
              options.rollback),
        forward(m.config(), m.device_weights(), m.backend()),
        positions(static_cast<size_t>(options.max_sequences), 0),
        max_kv_size(options.max_kv_size) {}

  const LoadedModel& model;
  KvCache cache;
  ForwardPass forward;
  std::vector<int> positions;
  int max_kv_size;
  BatchLayout layout;
};

Session::Session(const Model& model, const SessionOptions& options) {
  if (options.max_sequences <= 0) throw Error("max_sequences must be positive");
  if (options.context_length <= 0) throw Error("context_length must be positive");
  if (options.max_kv_size < 0 || options.rollback < 0) throw Error("max_kv_size and rollback must not be negative");
  state_ = std::make_unique<State>(loaded(model), options);
}

Session::~Session() = default;

namespace {

void validate(std::span<const SequenceInput> inputs, const std::vector<int>& positions, const KvCache& cache,
              int vocab) {
  std::set<int> seen;
  for (const SequenceInput& in : inputs) {
    const std::string who = "sequence " + std::to_string(in.sequence);
    if (in.sequence < 0 || in.sequence >= static_cast<int>(positions.size()))
      throw Error(who + ": no such sequence (the session holds " + std::to_string(positions.size()) + ")");
    if (!seen.insert(in.sequence).second) throw Error(who + ": listed twice in one batch");
    if (in.tokens.empty() && in.logits != LogitsWanted::none) throw Error(who + ": no tokens to compute logits for");
    for (size_t i = 0; i < in.tokens.size(); ++i)
      if (in.tokens[i] < 0 || in.tokens[i] >= vocab)
        throw Error(who + ": token id " + std::to_string(in.tokens[i]) + " at index " + std::to_string(i) +
                    " is outside the vocabulary (size " + std::to_string(vocab) + ")");
    const int64_t end = positions[static_cast<size_t>(in.sequence)] + static_cast<int64_t>(in.tokens.size());
    if (end > (cache.bounded() ? INT32_MAX : cache.context_length()))
      throw Error(who + ": " + std::to_string(positions[static_cast<size_t>(in.sequence)]) + " cached + " +
                  std::to_string(in.tokens.size()) + " new tokens exceed the context length of " +
                  std::to_string(cache.context_length()));
  }
}

}  // namespace

Logits Session::forward(std::span<const SequenceInput> inputs, HiddenStateObserver* observer) {
  State& s = *state_;
  const ModelConfig& config = s.model.config();
  validate(inputs, s.positions, s.cache, config.vocab_size);

  BatchLayout& layout = s.layout;
  layout = BatchLayout{};
  for (const SequenceInput& in : inputs) {
    BatchLayout::Sequence seq;
    seq.slot = in.sequence;
    seq.start_position = s.positions[static_cast<size_t>(in.sequence)];
    seq.first_row = layout.rows();
    seq.rows = static_cast<int64_t>(in.tokens.size());
    for (size_t i = 0; i < in.tokens.size(); ++i) {
      layout.tokens.push_back(in.tokens[i]);
      layout.positions.push_back(seq.start_position + static_cast<int32_t>(i));
    }
    if (in.logits == LogitsWanted::all)
      for (int64_t r = 0; r < seq.rows; ++r) layout.output_rows.push_back(seq.first_row + r);
    else if (in.logits == LogitsWanted::last)
      layout.output_rows.push_back(seq.first_row + seq.rows - 1);
    if (seq.rows > 0) layout.sequences.push_back(seq);
  }

  Logits logits;
  logits.rows = static_cast<int64_t>(layout.output_rows.size());
  logits.vocab = config.vocab_size;
  logits.values.resize(static_cast<size_t>(logits.rows * logits.vocab));
  int64_t end_position = 0;
  for (const auto& seq : layout.sequences) end_position = std::max(end_position, seq.start_position + seq.rows);
  s.cache.reserve(end_position);
  if (layout.rows() > 0) s.forward.run(layout, s.cache, logits.values.data(), observer);
  for (const SequenceInput& in : inputs) s.positions[static_cast<size_t>(in.sequence)] += static_cast<int>(in.tokens.size());
  return logits;
}

int Session::position(int sequence) const {
  if (sequence < 0 || sequence >= max_sequences()) throw Error("sequence " + std::to_string(sequence) + ": no such sequence");
  return state_->positions[static_cast<size_t>(sequence)];
}

void Session::reset(int sequence) {
  if (sequence < 0 || sequence >= max_sequences()) throw Error("sequence " + std::to_string(sequence) + ": no such sequence");
  state_->positions[static_cast<size_t>(sequence)] = 0;
}

bool Session::truncate(int sequence, int position) {
  const int current = this->position(sequence);
  if (position < 0 || position > current) throw Error("truncate: position " + std::to_string(position) + " is outside 0.." + std::to_string(current));
  const bool windowed_layers_hold_it = current - position <= state_->cache.rollback();
  if (position > 0 && !windowed_layers_hold_it) return false;
  state_->positions[static_cast<size_t>(sequence)] = position;
  return true;
}

int Session::context_length() const { return state_->cache.context_length(); }
int Session::max_kv_size() const { return state_->max_kv_size; }
int Session::max_sequences() const { return state_->cache.slots(); }
const Model& Session::model() const { return state_->model; }

}  // namespace gptoss
