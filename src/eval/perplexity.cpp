#include "eval/perplexity.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include "util/thread_pool.h"
#include "eval/kl_divergence.h"
#include "eval/log_probs.h"
#include "gptoss/error.h"
#include "gptoss/session.h"

namespace gptoss {

namespace {

// A logit row of one forward call: the token it predicts and where its results go.
struct ScoredRow {
  int32_t target = 0;
  int64_t index = 0;     // among all scored tokens
  int64_t position = 0;  // of the target in the token stream, for messages
};

class Evaluator {
 public:
  Evaluator(const Model& model, std::span<const int32_t> tokens, std::span<const Window> windows,
            const EvaluationOptions& options)
      : tokens_(tokens),
        windows_(windows),
        options_(options),
        vocab_(model.config().vocab_size),
        session_(model, {.max_sequences = options.batch_size,
                         .context_length = static_cast<int>(longest_window(windows)),
                         .kv = options.kv,
                         .should_stop = options.should_stop}),
        pool_(options.threads) {
    const int64_t scored = scored_tokens(windows);
    result_.nll.resize(static_cast<size_t>(scored));
    if (options.save_top_k > 0) result_.top = TopLogProbs(scored, options.save_top_k);
    if (options.base != nullptr) {
      result_.kl.resize(static_cast<size_t>(scored));
      result_.same_top.resize(static_cast<size_t>(scored));
    }
    for (const Window& w : windows) progress_.tokens_total += w.end - 1 - w.begin;
  }

  Evaluation run() {
    const auto start = std::chrono::steady_clock::now();
    int64_t first_index = 0;
    const auto batch = static_cast<size_t>(options_.batch_size);
    for (size_t group = 0; group < windows_.size(); group += batch) {
      const auto windows = windows_.subspan(group, std::min(windows_.size() - group, batch));
      run_group(windows, first_index);
      first_index += scored_tokens(windows);
    }
    result_.tokens_evaluated = progress_.tokens_done;
    result_.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return std::move(result_);
  }

 private:
  // Runs windows side by side, sequence i holding windows[i], until all are done. A window
  // reads tokens [begin, end − 1) (the last token is only predicted); logits are needed from
  // position first_scored − 1 on, so each forward piece asks for all of its rows or none.
  void run_group(std::span<const Window> windows, int64_t first_index) {
    const int64_t piece = std::max<int64_t>(1, options_.tokens_per_forward / static_cast<int64_t>(windows.size()));
    std::vector<int64_t> next(windows.size()), index(windows.size());
    for (size_t i = 0; i < windows.size(); ++i) {
      session_.reset(static_cast<int>(i));
      next[i] = windows[i].begin;
      index[i] = first_index;
      first_index += windows[i].scored();
    }
    std::vector<SequenceInput> inputs;
    std::vector<ScoredRow> rows;
    for (;;) {
      inputs.clear();
      rows.clear();
      for (size_t i = 0; i < windows.size(); ++i) {
        const Window& w = windows[i];
        const int64_t logits_from = w.first_scored - 1;
        int64_t stop = std::min(w.end - 1, next[i] + piece);
        if (next[i] >= stop) continue;
        const bool scored = next[i] >= logits_from;
        if (!scored) stop = std::min(stop, logits_from);
        const auto piece_tokens = tokens_.subspan(static_cast<size_t>(next[i]), static_cast<size_t>(stop - next[i]));
        inputs.push_back({static_cast<int>(i), piece_tokens, scored ? LogitsWanted::all : LogitsWanted::none});
        if (scored)
          for (int64_t p = next[i]; p < stop; ++p)
            rows.push_back({tokens_[static_cast<size_t>(p + 1)], index[i] + (p + 1 - w.first_scored), p + 1});
        progress_.tokens_done += stop - next[i];
        next[i] = stop;
      }
      if (inputs.empty()) return;
      const Logits logits = session_.forward(inputs);
      reduce(logits, rows);
    }
  }

  void reduce(const Logits& logits, const std::vector<ScoredRow>& rows) {
    pool_.parallel_for(static_cast<int64_t>(rows.size()), 1, [&](int64_t begin, int64_t end, int thread) {
      std::vector<float>& scratch = pool_.scratch(thread);
      scratch.resize(static_cast<size_t>(vocab_));
      for (int64_t r = begin; r < end; ++r) {
        const std::span<const float> row(logits.row(r), static_cast<size_t>(vocab_));
        score(row, rows[static_cast<size_t>(r)], scratch);
      }
    });
    for (const ScoredRow& row : rows) {
      check_finite(row);
      progress_.nll_sum += result_.nll[static_cast<size_t>(row.index)];
    }
    progress_.scored += static_cast<int64_t>(rows.size());
    if (options_.on_progress) options_.on_progress(progress_);
  }

  // NaN or Inf weights make NaN logits; averaged, they used to print "PPL -nan" and exit 0.
  // The first such token stops the evaluation, named by its position.
  void check_finite(const ScoredRow& row) const {
    const auto g = static_cast<size_t>(row.index);
    const double nll = result_.nll[g];
    const bool kl_bad = options_.base != nullptr && !std::isfinite(result_.kl[g]);
    if (std::isfinite(nll) && !kl_bad) return;
    throw Error("the log-probability " + std::string(std::isfinite(nll) ? "is finite but the KL divergence is not"
                                                                        : "is " + std::to_string(-nll)) +
                " at position " + std::to_string(row.position) + " (token " + std::to_string(row.target) +
                "): the model's logits are not finite (NaN or Inf weights?)");
  }

  void score(std::span<const float> logits, const ScoredRow& row, std::span<float> scratch) {
    const auto g = static_cast<size_t>(row.index);
    RowLogProbs p;
    if (options_.save_top_k > 0) p = keep_top_k(logits, row, scratch);
    if (options_.base != nullptr) p = compare_with_base(logits, row, scratch);
    if (options_.save_top_k == 0 && options_.base == nullptr) p = row_log_probs(logits, row.target, {}, {}, scratch);
    result_.nll[g] = -p.target;
  }

  RowLogProbs keep_top_k(std::span<const float> logits, const ScoredRow& row, std::span<float> scratch) {
    const auto g = static_cast<size_t>(row.index), k = static_cast<size_t>(options_.save_top_k);
    TopLogProbs& top = result_.top;
    const std::span<int32_t> ids(top.top_ids.data() + g * k, k);
    top_k_ids(logits, ids);
    std::vector<double> log_probs(k);
    const RowLogProbs p = row_log_probs(logits, row.target, ids, log_probs, scratch);
    std::copy(log_probs.begin(), log_probs.end(), top.top_log_probs.begin() + static_cast<ptrdiff_t>(g * k));
    top.target[g] = row.target;
    top.target_log_prob[g] = static_cast<float>(p.target);
    top.rest_log_prob[g] = static_cast<float>(p.rest);
    return p;
  }

  RowLogProbs compare_with_base(std::span<const float> logits, const ScoredRow& row, std::span<float> scratch) {
    const TopLogProbs& base = *options_.base;
    const auto g = static_cast<size_t>(row.index), k = static_cast<size_t>(base.top_k);
    const std::span<const int32_t> ids(base.top_ids.data() + g * k, k);
    std::vector<double> log_probs(k);
    const RowLogProbs q = row_log_probs(logits, row.target, ids, log_probs, scratch);
    const std::span<const float> base_log_probs(base.top_log_probs.data() + g * k, k);
    result_.kl[g] = top_k_kl_divergence(base_log_probs, base.rest_log_prob[g], log_probs, q.rest);
    result_.same_top[g] = first_argmax(logits, q.max_logit) == ids[0];
    return q;
  }

  std::span<const int32_t> tokens_;
  std::span<const Window> windows_;
  const EvaluationOptions& options_;
  int64_t vocab_;
  Session session_;
  ThreadPool pool_;
  Evaluation result_;
  EvaluationProgress progress_;
};

void check(const Model& model, std::span<const int32_t> tokens, std::span<const Window> windows,
           const EvaluationOptions& options) {
  if (options.batch_size < 1) throw Error("batch size " + std::to_string(options.batch_size) + ": must be at least 1");
  if (options.tokens_per_forward < 1)
    throw Error("tokens per forward call " + std::to_string(options.tokens_per_forward) + ": must be at least 1");
  if (windows.empty()) throw Error("no windows to evaluate");
  const int vocab = model.config().vocab_size;
  if (options.save_top_k < 0 || options.save_top_k > vocab)
    throw Error("top-K " + std::to_string(options.save_top_k) + ": must be between 0 (none) and the vocabulary (" +
                std::to_string(vocab) + ")");
  const auto n = static_cast<int64_t>(tokens.size());
  for (const Window& w : windows)
    if (w.begin < 0 || w.begin >= w.first_scored || w.first_scored > w.end || w.end > n)
      throw Error("window [" + std::to_string(w.begin) + ", " + std::to_string(w.end) + ") scoring from " +
                  std::to_string(w.first_scored) + " does not fit a stream of " + std::to_string(tokens.size()) +
                  " tokens");
  const int64_t scored = scored_tokens(windows);
  if (options.base != nullptr && options.base->size() != scored)
    throw Error("the base log-probabilities hold " + std::to_string(options.base->size()) +
                " tokens; this evaluation scores " + std::to_string(scored));
}

}  // namespace

Evaluation evaluate(const Model& model, std::span<const int32_t> tokens, std::span<const Window> windows,
                    const EvaluationOptions& options) {
  check(model, tokens, windows, options);
  return Evaluator(model, tokens, windows, options).run();
}

}  // namespace gptoss
