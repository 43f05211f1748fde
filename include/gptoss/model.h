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

 protected:
  Model() = default;
};

}  // namespace gptoss
