// Feeds arbitrary bytes to the small text parsers that read user input: --logit-bias
// (parse_logit_bias), evaluation data files in each format (split_documents) and the Hub's
// revision answer (parse_repo_revision). Each must return or throw gptoss::Error, never crash.
//
// The first byte picks the parser; the rest is its input. Run e.g.
//   ./build-fuzz/fuzz/fuzz_text_inputs -max_total_time=60 fuzz/corpus/text_inputs
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "eval/documents.h"
#include "gptoss/error.h"
#include "gptoss/sampler.h"
#include "io/hf_client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  try {
    switch (data[0] % 5) {
      case 0: gptoss::parse_logit_bias(input); break;
      case 1: gptoss::split_documents(input, gptoss::DocumentFormat::wikitext, "fuzz"); break;
      case 2: gptoss::split_documents(input, gptoss::DocumentFormat::lines, "fuzz"); break;
      case 3: gptoss::split_documents(input, gptoss::DocumentFormat::text, "fuzz"); break;
      default: gptoss::parse_repo_revision("fuzz", input); break;
    }
  } catch (const gptoss::Error&) {
  }
  return 0;
}
