// A loaded gpt-oss model: configuration, weights (memory-mapped views, never a dequantized
// copy) and the backend that runs them.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "gptoss/config.h"

namespace gptoss {

struct LoadOptions {
  // Where the model runs: "cpu", "cuda" (in builds with CUDA) or "auto" (the best available).
  std::string device = "auto";
  int threads = 0;  // CPU worker threads; 0 = one per hardware thread
  // Arithmetic of the matrix products: "f32" multiplies in float32 (the exact path the fixtures
  // are checked with); "bf16" rounds activations to bf16 and sums in float32 — for long inputs
  // (prefill, perplexity windows) the weights too, on AMX or AVX512-BF16 (several times
  // faster); for decode (up to 4 rows) only the activations, the quantized weights being exact
  // in bf16 (fewer instructions per weight byte); "auto" is bf16 where the device has such a
  // product, else f32.
  std::string precision = "auto";
  // Time every operation of the forward pass (Model::profile): two stream events per op, and
  // passes are not replayed as one recording (on the GPU: a few percent slower).
  bool profile = false;
};

// Wall time of one operation of the forward pass, summed over its calls since load (or since
// Model::clear_profile), and the weight bytes those calls read.
struct OperationProfile {
  std::string name;  // "decode/moe", "prefill/attention.qkv", …
  int64_t calls = 0;
  double seconds = 0;
  double weight_bytes = 0;
};

// One stored tensor as the loader understood it.
struct TensorDescription {
  std::string name;
  std::string format;  // e.g. "bf16", "mxfp4 [E8M0 scales, 32/group]"
  std::vector<int64_t> shape;
  uint64_t parameters = 0;
  uint64_t bytes = 0;
};

struct ModelDescription {
  std::string checkpoint_format;  // e.g. "Hugging Face (bf16 + MXFP4 experts)"
  std::vector<TensorDescription> tensors;
  uint64_t parameters = 0;
  uint64_t bytes = 0;
};

class Model;
// The ids that end a plain-text generation: generation_config.json's eos_token_id when the
// model directory has one (as mlx_lm and transformers use; gpt-oss: <|return|>, <|endoftext|>,
// <|call|>), else config.json's.
std::vector<int32_t> eos_token_ids(const Model& model);

class Model {
 public:
  // Loads the model directory `dir` (config.json + *.safetensors). Throws gptoss::Error.
  // A Model is immutable once loaded: any number of threads may use it (through their own
  // Sessions, Schedulers and Generators) at once.
  static std::unique_ptr<Model> load(const std::filesystem::path& dir, const LoadOptions& options = {});
  virtual ~Model() = default;

  virtual const ModelConfig& config() const = 0;
  virtual const std::filesystem::path& directory() const = 0;
  virtual ModelDescription describe() const = 0;
  virtual std::string device() const = 0;  // the backend it runs on: "cpu", "cuda"
  virtual int64_t free_memory() const = 0;  // bytes its device could still allocate
  // The forward pass's time per operation when loaded with LoadOptions::profile; else empty.
  virtual std::vector<OperationProfile> profile() const = 0;
  virtual void clear_profile() const = 0;

 protected:
  Model() = default;
};

}  // namespace gptoss
