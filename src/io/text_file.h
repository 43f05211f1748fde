// Reading whole files that a user or a download put on disk, without trusting what they are:
// a FIFO would block forever and /dev/zero never ends, so only regular files under a size cap
// are read.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace gptoss {

// Caps, generous for what each file holds in practice (gpt-oss: config.json 2 KB,
// tokenizer.json 27 MB, the index 30 KB).
inline constexpr uint64_t kMaxJsonConfigBytes = 16ull << 20;     // config.json and friends
inline constexpr uint64_t kMaxTokenizerJsonBytes = 256ull << 20;  // tokenizer.json
inline constexpr uint64_t kMaxTextFileBytes = 4ull << 30;         // perplexity input text

// The size of `path`, after checking it is a regular file (symlinks followed) of at most
// `max_bytes`. Throws Error("<path>: <what> is not a regular file") and the like; `what` says
// what the file was meant to be ("config", "data file").
uint64_t check_regular_file(const std::filesystem::path& path, uint64_t max_bytes, const std::string& what);

// The whole of `path` as bytes, under the same checks. Never blocks on a FIFO or device.
std::string read_text_file(const std::filesystem::path& path, uint64_t max_bytes, const std::string& what);

}  // namespace gptoss
