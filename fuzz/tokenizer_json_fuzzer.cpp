// Feeds arbitrary bytes to the tokenizer.json reader (through a temporary file, as it reads
// files): it must either load a tokenizer or throw gptoss::Error; never crash, overflow the
// stack on deep nesting, or hang.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "gptoss/error.h"
#include "gptoss/tokenizer.h"

namespace {

const std::filesystem::path& scratch_file() {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() / ("gptoss_fuzz_tokenizer_" + std::to_string(::getpid()) + ".json");
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  {
    std::ofstream out(scratch_file(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  try {
    const gptoss::Tokenizer tokenizer = gptoss::Tokenizer::load(scratch_file());
    // A loaded tokenizer must be usable: encoding and decoding must not crash. (Round trips are
    // not asserted: a hostile vocabulary may give two strings one id.)
    const auto ids = tokenizer.encode("Hello, world! 123 <|endoftext|>", true);
    static_cast<void>(tokenizer.decode(ids));
  } catch (const gptoss::Error&) {
  }
  return 0;
}
