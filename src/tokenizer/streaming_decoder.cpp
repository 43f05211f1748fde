#include "gptoss/tokenizer.h"
#include "tokenizer/utf8.h"

namespace gptoss {

std::string StreamingDecoder::feed(int32_t id) {
  pending_ += tokenizer_->token_bytes(id);
  std::string text;
  pending_.erase(0, append_utf8_lossy(pending_, text, /*final=*/false));
  return text;
}

std::string StreamingDecoder::flush() {
  std::string text;
  append_utf8_lossy(pending_, text, /*final=*/true);
  pending_.clear();
  return text;
}

}  // namespace gptoss
