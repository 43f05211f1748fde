// The library's Model: the checkpoint's mapped files, the typed weights over them, and the
// backend with its view of those weights.
#pragma once

#include <memory>

#include "backend/backend.h"
#include "gptoss/model.h"
#include "io/checkpoint.h"
#include "model/op_profile.h"
#include "backend/weights.h"

namespace gptoss {

class LoadedModel final : public Model {
 public:
  LoadedModel(const std::filesystem::path& dir, const LoadOptions& options);

  const ModelConfig& config() const override { return config_; }
  const std::filesystem::path& directory() const override { return dir_; }
  ModelDescription describe() const override { return description_; }
  std::string device() const override { return backend_->name(); }
  int64_t free_memory() const override { return backend_->available_memory(); }
  std::vector<OperationProfile> profile() const override { return profile_ ? profile_->snapshot() : std::vector<OperationProfile>{}; }
  void clear_profile() const override {
    if (profile_) profile_->clear();
  }
  OpProfile* op_profile() const { return profile_.get(); }  // null unless LoadOptions::profile

  Backend& backend() const { return *backend_; }
  const std::vector<int32_t>& eos_token_ids() const { return eos_token_ids_; }
  const ModelWeights& device_weights() const { return device_weights_; }

 private:
  std::filesystem::path dir_;
  ModelConfig config_;
  std::unique_ptr<Checkpoint> checkpoint_;
  VectorStore vectors_;
  ModelWeights host_weights_;
  ModelDescription description_;
  std::unique_ptr<Backend> backend_;
  ModelWeights device_weights_;
  std::vector<int32_t> eos_token_ids_;
  std::unique_ptr<OpProfile> profile_;
};

const LoadedModel& loaded(const Model& model);

}  // namespace gptoss
