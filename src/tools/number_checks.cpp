#include "tools/number_checks.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string_view>

namespace gptoss::tools {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

}  // namespace

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

CLI::Validator logit_bias_range_check() {
  return CLI::Validator(
      [](std::string& text) -> std::string {
        std::string_view rest = text;
        while (!rest.empty()) {
          const size_t comma = std::min(rest.find(','), rest.size());
          const std::string_view entry = trim(rest.substr(0, comma));
          rest.remove_prefix(std::min(comma + 1, rest.size()));
          const size_t colon = entry.find(':');
          if (colon == std::string_view::npos) continue;
          const std::string_view id = trim(entry.substr(0, colon)), bias = trim(entry.substr(colon + 1));
          int32_t parsed_id = 0;
          if (std::from_chars(id.data(), id.data() + id.size(), parsed_id).ec == std::errc::result_out_of_range)
            return "logit bias '" + std::string(entry) + "': the token id is out of range";
          double parsed_bias = 0;
          const auto b = std::from_chars(bias.data(), bias.data() + bias.size(), parsed_bias);
          if (b.ec == std::errc::result_out_of_range ||
              (b.ec == std::errc() && std::isfinite(parsed_bias) &&
               std::abs(parsed_bias) > static_cast<double>(std::numeric_limits<float>::max())))
            return "logit bias '" + std::string(entry) + "': the bias is out of a float's range";
        }
        return {};
      },
      "ID:BIAS,...");
}

}  // namespace gptoss::tools
