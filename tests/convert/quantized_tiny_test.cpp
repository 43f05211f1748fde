// The tiny model converted to MLX affine q8/q6/q5/q4 at group sizes 32 and 64, loaded back and
// run: how far its next-token distributions drift from the original (KL divergence) and how
// often its top-1 token agrees with transformers'.
#include <gtest/gtest.h>

#include <cmath>

#include "convert/mlx_converter.h"
#include "gptoss/gptoss.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

constexpr const char* kPrompts[] = {"short", "long", "romanian", "harmony"};

// log-softmax of one row, in double.
std::vector<double> log_probs(const float* logits, int64_t vocab) {
  double max = logits[0];
  for (int64_t i = 1; i < vocab; ++i) max = std::max(max, double(logits[i]));
  double sum = 0;
  for (int64_t i = 0; i < vocab; ++i) sum += std::exp(logits[i] - max);
  const double lse = max + std::log(sum);
  std::vector<double> out(static_cast<size_t>(vocab));
  for (int64_t i = 0; i < vocab; ++i) out[static_cast<size_t>(i)] = logits[i] - lse;
  return out;
}

// KL(p ‖ q) = Σ p (log p − log q)
double kl(const std::vector<double>& log_p, const std::vector<double>& log_q) {
  double sum = 0;
  for (size_t i = 0; i < log_p.size(); ++i) sum += std::exp(log_p[i]) * (log_p[i] - log_q[i]);
  return sum;
}

Logits all_logits(const Model& model, const std::vector<int32_t>& tokens) {
  Session session(model, {.max_sequences = 1, .context_length = static_cast<int>(tokens.size()), .kv = {.precision = KvPrecision::f32}});
  const SequenceInput input{0, tokens, LogitsWanted::all};
  return session.forward({&input, 1});
}

struct Drift {
  double kl_all_positions = 0;        // against the original model run by gptoss, every position
  double kl_vs_transformers = 0;      // against the fixture's logits, first and last positions
  double top1_vs_transformers = 0;    // argmax agreement with the fixture, every position
  double top1_clear = 0;              // the same, where the reference's top-1 is clear (see below)
  double clear_share = 0;             // how many positions that is
};

// Random weights make near-ties common: at a tenth of the fixture's positions the best two
// logits are within 0.034 of each other (the logits spread about 2), while 8-bit quantization
// moves every logit by about 0.04 (rms) on short prompts and more on long ones. A quantized
// model cannot be expected to keep such coin-flip choices. A position's choice counts as clear
// when transformers' top-1 leads its runner-up by more than 4 × the rms change in the logits
// the quantization caused at that position.
constexpr double kClearLead = 4.0;

class QuantizedTiny : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new test::TempDir();
    reference_ = new std::map<std::string, test::HostTensor>(
        test::read_all_tensors(test::test_data_dir() / "tiny-gpt-oss" / "reference.safetensors"));
    // f32: bf16 rounding would add its own noise to the drift quantization causes.
    const auto original = Model::load(test::tiny_model_dir(), {.precision = "f32"});
    originals_ = new std::map<std::string, Logits>();
    for (const char* p : kPrompts) (*originals_)[p] = all_logits(*original, reference_->at(std::string(p) + ".ids").i32);
  }
  static void TearDownTestSuite() {
    delete originals_;
    delete reference_;
    delete dir_;
  }

  static Drift measure(int bits, int group_size) {
    const auto out = dir_->path() / ("q" + std::to_string(bits) + "g" + std::to_string(group_size));
    ConvertOptions options;
    options.quantize = true;
    options.bits = bits;
    options.group_size = group_size;
    convert_to_mlx(test::tiny_model_dir(), out, options);
    const auto model = Model::load(out, {.precision = "f32"});
    Drift d;
    int positions = 0, ends = 0, agree = 0, clear = 0, clear_agree = 0;
    for (const char* p : kPrompts) {
      const std::string name = p;
      const auto& ids = reference_->at(name + ".ids").i32;
      const Logits q = all_logits(*model, ids);
      const Logits& o = originals_->at(name);
      const auto& top = reference_->at(name + ".topk_ids").i32;
      const auto& top_values = reference_->at(name + ".topk_vals").f32;
      for (int64_t t = 0; t < q.rows; ++t, ++positions) {
        const auto log_q = log_probs(q.row(t), q.vocab);
        d.kl_all_positions += kl(log_probs(o.row(t), o.vocab), log_q);
        const float* row = q.row(t);
        const bool same = std::max_element(row, row + q.vocab) - row == top[static_cast<size_t>(t * 8)];
        agree += same;
        double change = 0;
        for (int64_t i = 0; i < q.vocab; ++i) change += std::pow(double(row[i]) - o.row(t)[i], 2);
        change = std::sqrt(change / double(q.vocab));
        if (top_values[static_cast<size_t>(t * 8)] - top_values[static_cast<size_t>(t * 8 + 1)] > kClearLead * change) {
          ++clear;
          clear_agree += same;
        }
        if (t == 0 || t == q.rows - 1) {
          const auto& ref = reference_->at(name + (t == 0 ? ".logits_first" : ".logits_last")).f32;
          d.kl_vs_transformers += kl(log_probs(ref.data(), q.vocab), log_q);
          ++ends;
        }
      }
    }
    d.kl_all_positions /= positions;
    d.kl_vs_transformers /= ends;
    d.top1_vs_transformers = double(agree) / positions;
    d.top1_clear = clear > 0 ? double(clear_agree) / clear : 1.0;
    d.clear_share = double(clear) / positions;
    std::printf("q%d gs%-3d  KL(all positions) %.3e  KL(vs transformers, first/last) %.3e  top-1 agreement %.4f"
                " (%.4f at the %d of %d positions with a clear top-1)\n",
                bits, group_size, d.kl_all_positions, d.kl_vs_transformers, d.top1_vs_transformers,
                d.top1_clear, clear, positions);
    return d;
  }

  static test::TempDir* dir_;
  static std::map<std::string, test::HostTensor>* reference_;
  static std::map<std::string, Logits>* originals_;
};

test::TempDir* QuantizedTiny::dir_ = nullptr;
std::map<std::string, test::HostTensor>* QuantizedTiny::reference_ = nullptr;
std::map<std::string, Logits>* QuantizedTiny::originals_ = nullptr;

TEST_F(QuantizedTiny, DriftShrinksAsBitsGrow) {
  for (int group_size : {32, 64}) {
    double previous_kl = INFINITY;
    Drift q8;
    for (int bits : {4, 5, 6, 8}) {
      const Drift d = measure(bits, group_size);
      EXPECT_LT(d.kl_all_positions, previous_kl) << bits << "-bit, group " << group_size;
      EXPECT_GT(d.kl_all_positions, 0.0);
      previous_kl = d.kl_all_positions;
      q8 = d;
    }
    EXPECT_GE(q8.top1_clear, 0.99) << "group " << group_size;
    EXPECT_GE(q8.clear_share, 0.4) << "group " << group_size;  // q8 moves logits little: most choices stay clear
  }
}

}  // namespace
}  // namespace gptoss
