// Models named by a Hugging Face repo id ("openai/gpt-oss-20b"): found in the local Hugging Face
// cache, or downloaded into it, in huggingface_hub's layout (models--owner--name/{refs,blobs,
// snapshots}), so that what mlx_lm or transformers downloaded is found, and what is downloaded
// here is theirs too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace gptoss {

struct HubOptions {
  // A branch, a tag or a commit hash.
  std::string revision = "main";
  // Unset: read from the environment as huggingface_hub reads it.
  // $HF_ENDPOINT, else https://huggingface.co.
  std::optional<std::string> endpoint;
  // $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else
  // $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub.
  std::optional<std::filesystem::path> cache_dir;
  // Sent as "Authorization: Bearer <token>" to the endpoint's host only. $HF_TOKEN, else
  // $HUGGING_FACE_HUB_TOKEN, else the file $HF_TOKEN_PATH (default $HF_HOME/token, where
  // `hf auth login` writes it). An empty token sends none.
  std::optional<std::string> token;
  // Use the cache only, never the network: $HF_HUB_OFFLINE (or $TRANSFORMERS_OFFLINE) is 1, ON,
  // YES or TRUE.
  std::optional<bool> offline;
  // Called while a file downloads: its path in the repo, bytes present and its size.
  std::function<void(const std::string& file, uint64_t done, uint64_t total)> progress;
};

// The model directory `path_or_repo` names.
//
// An existing directory is returned as it is. Otherwise it must be a repo id "owner/name": the
// snapshot of options.revision in the cache (refs/<revision> → snapshots/<commit>/) is returned
// when it holds a model (config.json, tokenizer.json and the weights the index names, or some
// *.safetensors); if not, the revision's file list is fetched from the Hub and the files a model
// needs that the snapshot lacks are downloaded (top-level *.json, *.jinja and *.safetensors; not
// original/ or metal/). Downloads resume from an interrupted earlier attempt and appear in the
// snapshot only once complete. Throws gptoss::Error with one line: a name that is neither,
// access denied (401/403), not found (404), a network failure naming the URL, or a model absent
// from the cache when offline.
std::filesystem::path resolve_model(const std::string& path_or_repo, const HubOptions& options = {});

}  // namespace gptoss
