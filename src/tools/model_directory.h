// Every command's -m/--model: a local directory, or a Hugging Face repo id found in the local
// Hugging Face cache or downloaded into it (gptoss/hub.h) with a progress bar.
#pragma once

#include <filesystem>
#include <string>

namespace gptoss::tools {

std::filesystem::path model_directory(const std::string& path_or_repo);

}  // namespace gptoss::tools
