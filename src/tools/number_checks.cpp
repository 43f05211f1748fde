#include "tools/number_checks.h"

#include <charconv>
#include <cstdint>
#include <string>

namespace gptoss::tools {

CLI::Validator seed_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        uint64_t value = 0;
        const char* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, value);
        const bool digits = !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
        if (!digits || ec != std::errc() || ptr != end)
          return "'" + text + "' is not a whole number from 0 to 18446744073709551615";
        return {};
      },
      "UINT64");
}

}  // namespace gptoss::tools
