#include "model/loaded_model.h"

#include <cstdint>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "gptoss/error.h"
#include "io/json_limits.h"
#include "io/text_file.h"
#include "model/checkpoint_reader.h"
#include "model/checkpoint_layout.h"
#include "model/op_profile.h"
#include "backend/registry.h"

namespace gptoss {

namespace {

std::vector<int32_t> read_eos_token_ids(const std::filesystem::path& generation_config, const ModelConfig& config) {
  std::vector<int32_t> ids(config.eos_token_ids.begin(), config.eos_token_ids.end());
  if (!std::filesystem::exists(generation_config)) return ids;
  const nlohmann::json doc = parse_untrusted_json(
      read_text_file(generation_config, kMaxJsonConfigBytes, "generation config"), generation_config.string());
  if (!doc.is_object()) throw Error(generation_config.string() + ": not a JSON object");
  const auto it = doc.find("eos_token_id");
  if (it == doc.end() || it->is_null()) return ids;
  ids.clear();
  for (const auto& id : it->is_array() ? *it : nlohmann::json::array({*it})) {
    if (!id.is_number_integer()) throw Error(generation_config.string() + ": key 'eos_token_id' must hold integers");
    // get<int32_t>() truncates: 2^32 + 87242 became 87242, an ordinary token.
    constexpr int64_t kMaxId = std::numeric_limits<int32_t>::max();
    const bool in_range = id.is_number_unsigned() ? id.get<uint64_t>() <= static_cast<uint64_t>(kMaxId)
                                                  : id.get<int64_t>() >= 0 && id.get<int64_t>() <= kMaxId;
    if (!in_range)
      throw Error(generation_config.string() + ": key 'eos_token_id' holds " + id.dump() +
                  ", outside the token ids 0 to " + std::to_string(kMaxId));
    ids.push_back(static_cast<int32_t>(id.get<int64_t>()));
  }
  return ids;
}

}  // namespace

LoadedModel::LoadedModel(const std::filesystem::path& dir, const LoadOptions& options) : dir_(dir) {
  const std::filesystem::path config_path = dir / "config.json";
  const std::string config_text = read_text_file(config_path, kMaxJsonConfigBytes, "config");
  config_ = parse_config(config_text, config_path.string());
  checkpoint_ = std::make_unique<Checkpoint>(dir);
  CheckpointReader reader(*checkpoint_, vectors_);
  const auto layout = detect_layout(*checkpoint_, config_text, config_path.string());
  host_weights_ = read_gpt_oss_weights(reader, config_, *layout);
  description_ = reader.description();
  description_.checkpoint_format = layout->description();
  eos_token_ids_ = read_eos_token_ids(dir / "generation_config.json", config_);
  backend_ = make_backend(options.device, {.threads = options.threads, .precision = options.precision});
  if (options.profile) profile_ = std::make_unique<OpProfile>();
  try {
    device_weights_ = backend_->prepare_weights(host_weights_);
  } catch (const std::bad_alloc&) {
    // A bare std::bad_alloc would name nothing; say what did not fit.
    throw Error(dir.string() + ": out of memory preparing " + std::to_string(description_.bytes) +
                " bytes of weights for the backend");
  }
}

std::vector<int32_t> eos_token_ids(const Model& model) { return loaded(model).eos_token_ids(); }

const LoadedModel& loaded(const Model& model) {
  const auto* m = dynamic_cast<const LoadedModel*>(&model);
  if (m == nullptr) throw Error("this Model was not created by gptoss::Model::load");
  return *m;
}

std::unique_ptr<Model> Model::load(const std::filesystem::path& dir, const LoadOptions& options) {
  return std::make_unique<LoadedModel>(dir, options);
}

}  // namespace gptoss
