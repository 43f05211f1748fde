// LoadOptions::profile: the forward pass's time and weight bytes per operation, per phase.
#include <gtest/gtest.h>

#include <map>

#include "gptoss/gptoss.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

std::map<std::string, OperationProfile> by_name(const Model& model) {
  std::map<std::string, OperationProfile> ops;
  for (const OperationProfile& op : model.profile()) ops[op.name] = op;
  return ops;
}

uint64_t tensor_bytes(const Model& model, const std::string& name) {
  for (const TensorDescription& t : model.describe().tensors)
    if (t.name == name) return t.bytes;
  ADD_FAILURE() << "no tensor " << name;
  return 0;
}

TEST(Profile, TimesEveryOperationOfEachPhaseWithTheWeightBytesItReads) {
  const auto model = Model::load(test::tiny_model_dir(), {.profile = true});
  const int layers = model->config().num_layers;
  Session session(*model, {.max_sequences = 1, .context_length = 16});
  const std::vector<int32_t> prompt = {976, 4853, 19705, 68347, 13, 11};  // six rows: prefill
  const SequenceInput first{0, prompt, LogitsWanted::last};
  session.forward({&first, 1});
  const std::vector<int32_t> next = {35633};  // one row per sequence: decode
  const SequenceInput second{0, next, LogitsWanted::last};
  session.forward({&second, 1});

  const auto ops = by_name(*model);
  for (const char* phase : {"prefill/", "decode/"}) {
    for (const char* per_layer : {"attention.qkv", "attention.sdpa", "attention.o", "moe"})
      EXPECT_EQ(ops.at(std::string(phase) + per_layer).calls, layers) << phase << per_layer;
    // The layers' RMSNorms count in attention.qkv and moe, the ops that read them first.
    EXPECT_EQ(ops.count(std::string(phase) + "norm"), 0u) << phase;
    EXPECT_EQ(ops.at(std::string(phase) + "lm_head").calls, 1) << phase;
    EXPECT_EQ(ops.at(std::string(phase) + "embed").calls, 1) << phase;
    double seconds = 0;
    for (const auto& [name, op] : ops)
      if (name.rfind(phase, 0) == 0) seconds += op.seconds;
    EXPECT_GT(seconds, 0.0) << phase;
  }

  // q, k and v of every layer (the tiny model's attention is bf16: weights only).
  const std::string l0 = "model.layers.0.";
  const double qkv = static_cast<double>(tensor_bytes(*model, l0 + "self_attn.q_proj.weight") +
                                         tensor_bytes(*model, l0 + "self_attn.k_proj.weight") +
                                         tensor_bytes(*model, l0 + "self_attn.v_proj.weight"));
  EXPECT_DOUBLE_EQ(ops.at("decode/attention.qkv").weight_bytes, layers * qkv);
  // The MoE reads the router and the distinct experts its rows chose: 4 of 8 for one row, all 8
  // for six. So prefill − decode is 4 experts, and what is left of decode is the router.
  const double prefill = ops.at("prefill/moe").weight_bytes / layers, decode = ops.at("decode/moe").weight_bytes / layers;
  const double expert = (prefill - decode) / 4;
  EXPECT_GT(expert, 0.0);
  EXPECT_DOUBLE_EQ(decode - 4 * expert, static_cast<double>(tensor_bytes(*model, l0 + "mlp.router.weight")));

  model->clear_profile();
  EXPECT_TRUE(model->profile().empty());
  EXPECT_TRUE(Model::load(test::tiny_model_dir())->profile().empty()) << "profiling is off by default";
}

}  // namespace
}  // namespace gptoss
