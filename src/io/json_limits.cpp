#include "io/json_limits.h"

#include "gptoss/error.h"

namespace gptoss {
namespace {

constexpr size_t kExcerptBytes = 60;

}  // namespace

void check_json_depth(std::string_view text, const std::string& origin, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') ++i;  // the escaped character cannot end the string
      else if (c == '"') in_string = false;
      continue;
    }
    switch (c) {
      case '"': in_string = true; break;
      case '[':
      case '{':
        if (++depth > max_depth)
          throw Error(origin + ": JSON nests deeper than " + std::to_string(max_depth) + " levels (at byte " +
                      std::to_string(i) + ")");
        break;
      case ']':
      case '}':
        --depth;  // unbalanced brackets are the parser's to report
        break;
      default: break;
    }
  }
}

nlohmann::json parse_untrusted_json(std::string_view text, const std::string& origin) {
  check_json_depth(text, origin);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    // nlohmann quotes the last token read, which may be a whole multi-megabyte string.
    throw Error(origin + ": not valid JSON: " + text_excerpt(e.what()));
  }
}

std::string text_excerpt(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, kExcerptBytes))
    out += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;  // keep messages on one line
  if (text.size() > kExcerptBytes) {
    // Do not end inside a UTF-8 sequence: drop a last character that the cut left incomplete.
    size_t lead = out.size();
    while (lead > 0 && (static_cast<unsigned char>(out[lead - 1]) & 0xC0) == 0x80) --lead;
    if (lead > 0 && static_cast<unsigned char>(out[lead - 1]) >= 0xC0) {
      const auto first = static_cast<unsigned char>(out[lead - 1]);
      const size_t length = first >= 0xF0 ? 4 : first >= 0xE0 ? 3 : 2;
      if (out.size() - (lead - 1) < length) out.resize(lead - 1);
    }
    out += "...";
  }
  return out;
}

std::string json_excerpt(const nlohmann::json& value) {
  if (value.is_array()) return "an array of " + std::to_string(value.size()) + " elements";
  if (value.is_object()) return "an object of " + std::to_string(value.size()) + " keys";
  if (value.is_string()) {
    const auto& s = value.get_ref<const std::string&>();
    if (s.size() <= kExcerptBytes) return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    return "\"" + text_excerpt(s) + "\"";
  }
  return value.dump();  // numbers, booleans and null are short
}

}  // namespace gptoss
