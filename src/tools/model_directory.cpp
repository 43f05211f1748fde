#include "tools/model_directory.h"

#include "gptoss/hub.h"
#include "tools/progress.h"

namespace gptoss::tools {

std::filesystem::path model_directory(const std::string& path_or_repo) {
  ProgressBar bar("downloading");
  HubOptions hub;
  hub.progress = [&](const std::string&, uint64_t done, uint64_t total) { bar.update(done, total); };
  std::filesystem::path dir = resolve_model(path_or_repo, hub);
  bar.finish();
  return dir;
}

}  // namespace gptoss::tools
