#include "model/loaded_model.h"

#include "gptoss/error.h"
#include "model/checkpoint_reader.h"
#include "model/hf_layout.h"

namespace gptoss {

LoadedModel::LoadedModel(const std::filesystem::path& dir, const LoadOptions& options)
    : dir_(dir), config_(load_config(dir / "config.json")), checkpoint_(std::make_unique<Checkpoint>(dir)) {
  CheckpointReader reader(*checkpoint_, vectors_);
  if (!is_hf_layout(*checkpoint_))
    throw Error(dir.string() + ": unrecognised checkpoint layout (no 'model.layers.0.mlp.experts.gate_up_proj_blocks')");
  host_weights_ = read_hf_weights(reader, config_);
  description_ = reader.description();
  description_.checkpoint_format = "Hugging Face (bf16 + MXFP4 experts)";
  backend_ = make_backend(options.backend, options.threads);
  device_weights_ = backend_->prepare_weights(host_weights_);
}

const LoadedModel& loaded(const Model& model) {
  const auto* m = dynamic_cast<const LoadedModel*>(&model);
  if (m == nullptr) throw Error("this Model was not created by gptoss::Model::load");
  return *m;
}

std::unique_ptr<Model> Model::load(const std::filesystem::path& dir, const LoadOptions& options) {
  return std::make_unique<LoadedModel>(dir, options);
}

}  // namespace gptoss
