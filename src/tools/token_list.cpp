#include <charconv>

#include "gptoss/error.h"
#include "tools/tool.h"

namespace gptoss::tools {

std::vector<int32_t> parse_token_list(const std::string& text) {
  std::vector<int32_t> ids;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    std::string item = text.substr(start, end - start);
    while (!item.empty() && item.front() == ' ') item.erase(item.begin());
    while (!item.empty() && item.back() == ' ') item.pop_back();
    int32_t id = 0;
    const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size())
      throw Error("--tokens: '" + item + "' (entry " + std::to_string(ids.size()) + ") is not a token id");
    ids.push_back(id);
    start = end + 1;
  }
  return ids;
}

}  // namespace gptoss::tools
