// resolve_model: a local directory, or a Hugging Face repo id through the cache and the Hub.
#include <algorithm>
#include <cctype>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "gptoss/error.h"
#include "io/json_limits.h"
#include "gptoss/hub.h"
#include "io/hf_cache.h"
#include "io/hf_client.h"
#include "io/hf_settings.h"

namespace gptoss {
namespace {

namespace fs = std::filesystem;

// huggingface_hub's validate_repo_id, for "owner/name": word characters, '-' and '.', each part
// beginning and ending with a word character, no "--" or "..", at most 96 characters.
bool is_repo_id(const std::string& text) {
  const size_t slash = text.find('/');
  if (slash == std::string::npos || text.size() > 96 || text.find("--") != std::string::npos ||
      text.find("..") != std::string::npos)
    return false;
  const auto is_word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  const auto valid_part = [&](std::string_view part) {
    return !part.empty() && is_word(part.front()) && is_word(part.back()) &&
           std::all_of(part.begin(), part.end(), [&](char c) { return is_word(c) || c == '-' || c == '.'; });
  };
  const std::string_view id(text);
  return valid_part(id.substr(0, slash)) && valid_part(id.substr(slash + 1));
}

// What a model needs from its repository: the top-level *.json (config, generation config,
// tokenizer, index), *.jinja (chat template) and *.safetensors, as mlx_lm's download patterns
// take them; not original/ or metal/.
bool is_model_file(const std::string& file) {
  return file.find('/') == std::string::npos &&
         (file.ends_with(".json") || file.ends_with(".jinja") || file.ends_with(".safetensors"));
}

// Whether a snapshot holds a model: config.json, tokenizer.json, and every shard the index
// names (or, without an index, some *.safetensors).
bool holds_model(const fs::path& dir) {
  if (!fs::is_regular_file(dir / "config.json") || !fs::is_regular_file(dir / "tokenizer.json")) return false;
  std::ifstream index(dir / "model.safetensors.index.json");
  if (!index) {
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec))
      if (entry.path().extension() == ".safetensors" && fs::is_regular_file(entry.path())) return true;
    return false;
  }
  const std::string text((std::istreambuf_iterator<char>(index)), std::istreambuf_iterator<char>());
  // A snapshot whose index does not parse is not a model (yet); too deep counts as not parsing.
  try {
    check_json_depth(text, "index");
  } catch (const Error&) {
    return false;
  }
  const auto doc = nlohmann::json::parse(text, nullptr, false);
  if (!doc.is_object() || !doc.contains("weight_map") || !doc["weight_map"].is_object()) return false;
  for (const auto& [tensor, file] : doc["weight_map"].items())
    if (!file.is_string() || !fs::is_regular_file(dir / file.get<std::string>())) return false;
  return true;
}

}  // namespace

fs::path resolve_model(const std::string& path_or_repo, const HubOptions& options) {
  std::error_code ec;
  if (fs::is_directory(path_or_repo, ec)) return path_or_repo;
  if (fs::exists(path_or_repo, ec)) throw Error(path_or_repo + ": not a model directory");
  if (!is_repo_id(path_or_repo))
    throw Error(path_or_repo + ": no such directory, and not a Hugging Face repo id (owner/name)");
  const HubSettings settings = hub_settings(options);
  const HubCacheRepo cache(settings.cache_dir, path_or_repo);
  const std::string where = path_or_repo + "@" + options.revision;
  if (const auto commit = cache.commit(options.revision); commit && holds_model(cache.snapshot(*commit)))
    return cache.snapshot(*commit);
  if (settings.offline)
    throw Error(where + ": no complete copy in the Hugging Face cache " + cache.dir().string() +
                " (HF_HUB_OFFLINE is set; unset it to download)");

  const HubClient hub(settings.endpoint, settings.token, options.progress);
  const RepoRevision listed = hub.revision(path_or_repo, options.revision);
  std::vector<std::string> files;
  std::copy_if(listed.files.begin(), listed.files.end(), std::back_inserter(files), is_model_file);
  if (std::find(files.begin(), files.end(), "config.json") == files.end())
    throw Error(where + ": the repository has no config.json");
  // The weights last: a snapshot whose download was cut short then lacks them, so it does not
  // pass for a model.
  std::sort(files.begin(), files.end());
  std::stable_partition(files.begin(), files.end(), [](const std::string& f) { return !f.ends_with(".safetensors"); });
  cache.set_ref(options.revision, listed.commit);
  const fs::path snapshot = cache.snapshot(listed.commit);
  for (const auto& file : files)
    if (!fs::exists(snapshot / file)) hub.download(cache, listed.commit, file);
  return snapshot;
}

}  // namespace gptoss
