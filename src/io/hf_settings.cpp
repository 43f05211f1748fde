#include "io/hf_settings.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>

#include "gptoss/error.h"

namespace gptoss {
namespace {

namespace fs = std::filesystem;

// A variable that is set and not empty (huggingface_hub's os.environ.get(...) or ...).
std::optional<std::string> variable(const char* name) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return std::nullopt;
  return std::string(value);
}

fs::path home() {
  const auto dir = variable("HOME");
  if (!dir) throw Error("cannot find the Hugging Face cache: set HF_HUB_CACHE, HF_HOME or HOME");
  return *dir;
}

// huggingface_hub expands "~" in these paths.
fs::path expand_user(const std::string& path) {
  if (path == "~") return home();
  if (path.starts_with("~/")) return home() / path.substr(2);
  return path;
}

fs::path hf_home() {
  if (const auto dir = variable("HF_HOME")) return expand_user(*dir);
  if (const auto cache = variable("XDG_CACHE_HOME")) return expand_user(*cache) / "huggingface";
  return home() / ".cache" / "huggingface";
}

fs::path cache_dir() {
  if (const auto dir = variable("HF_HUB_CACHE")) return expand_user(*dir);
  if (const auto dir = variable("HUGGINGFACE_HUB_CACHE")) return expand_user(*dir);
  return hf_home() / "hub";
}

// huggingface_hub's _clean_token: surrounding whitespace and any line breaks go.
std::string clean_token(std::string token) {
  token.erase(std::remove_if(token.begin(), token.end(), [](char c) { return c == '\r' || c == '\n'; }), token.end());
  const size_t begin = token.find_first_not_of(" \t");
  if (begin == std::string::npos) return {};
  return token.substr(begin, token.find_last_not_of(" \t") - begin + 1);
}

std::string token() {
  auto from_environment = variable("HF_TOKEN");
  if (!from_environment) from_environment = variable("HUGGING_FACE_HUB_TOKEN");
  if (from_environment)
    if (std::string t = clean_token(*from_environment); !t.empty()) return t;
  const auto path = variable("HF_TOKEN_PATH");
  std::ifstream in(path ? expand_user(*path) : hf_home() / "token");
  std::stringstream text;
  text << in.rdbuf();
  return clean_token(text.str());
}

// huggingface_hub's _is_true.
bool is_true(const std::optional<std::string>& value) {
  if (!value) return false;
  std::string upper = *value;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return upper == "1" || upper == "ON" || upper == "YES" || upper == "TRUE";
}

}  // namespace

HubSettings hub_settings(const HubOptions& options) {
  HubSettings s;
  s.endpoint = options.endpoint ? *options.endpoint : variable("HF_ENDPOINT").value_or("https://huggingface.co");
  while (s.endpoint.ends_with('/')) s.endpoint.pop_back();
  s.cache_dir = options.cache_dir ? *options.cache_dir : cache_dir();
  s.token = options.token ? clean_token(*options.token) : token();
  if (options.offline) {
    s.offline = *options.offline;
  } else {
    const auto hub_offline = variable("HF_HUB_OFFLINE");
    s.offline = is_true(hub_offline ? hub_offline : variable("TRANSFORMERS_OFFLINE"));
  }
  return s;
}

}  // namespace gptoss
