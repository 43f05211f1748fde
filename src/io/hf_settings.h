// How to reach the Hugging Face Hub and where its cache is: HubOptions, with what they leave
// unset read from the environment as huggingface_hub reads it (constants.py, get_token()).
#pragma once

#include <filesystem>
#include <string>

#include "gptoss/hub.h"

namespace gptoss {

struct HubSettings {
  std::string endpoint;  // without a trailing '/'
  std::filesystem::path cache_dir;
  std::string token;  // empty: none
  bool offline = false;
};

// Throws gptoss::Error when no cache directory can be found (neither a variable nor $HOME).
HubSettings hub_settings(const HubOptions& options);

}  // namespace gptoss
