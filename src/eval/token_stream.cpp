#include "eval/token_stream.h"

namespace gptoss {

std::vector<int32_t> build_token_stream(const Tokenizer& tokenizer, std::span<const std::string> documents,
                                        const TokenStreamOptions& options) {
  std::vector<int32_t> stream;
  const auto full = [&] { return options.max_tokens > 0 && static_cast<int64_t>(stream.size()) >= options.max_tokens; };
  for (const std::string& document : documents) {
    if (full()) break;
    const std::vector<int32_t> ids = tokenizer.encode(document, options.parse_special);
    if (ids.empty()) continue;
    if (!stream.empty() && options.separator) stream.push_back(*options.separator);
    stream.insert(stream.end(), ids.begin(), ids.end());
  }
  if (full()) stream.resize(static_cast<size_t>(options.max_tokens));
  return stream;
}

}  // namespace gptoss
