#include "convert/quant_predicate.h"

#include <fnmatch.h>

#include <charconv>

#include "gptoss/error.h"
#include "quant/affine.h"

namespace gptoss {

namespace {

int parse_int(std::string_view text, const std::string& rule) {
  int value = 0;
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size())
    throw Error("--quant-predicate: '" + rule + "': '" + std::string(text) + "' is not a number");
  return value;
}

ModuleQuantization parse_spec(const std::string& spec, const std::string& rule, int default_group) {
  if (spec == "none") return {};
  if (spec == "mxfp4") return {ModuleQuantization::Kind::mxfp4, 4, 32};
  const size_t slash = spec.find('/');
  ModuleQuantization q{ModuleQuantization::Kind::affine, parse_int(spec.substr(0, slash), rule),
                       slash == std::string::npos ? default_group : parse_int(spec.substr(slash + 1), rule)};
  if (!affine_bits_supported(q.bits))
    throw Error("--quant-predicate: '" + rule + "': " + std::to_string(q.bits) + " bits (use 2, 3, 4, 5, 6 or 8)");
  if (!affine_group_size_supported(q.group_size))
    throw Error("--quant-predicate: '" + rule + "': group size " + std::to_string(q.group_size) + " (use 32, 64 or 128)");
  return q;
}

}  // namespace

QuantPredicate::QuantPredicate(const std::string& rules, ModuleQuantization fallback) : fallback_(fallback) {
  const std::string text = rules == "mlx-lm" ? "*.mlp.router=8/64,*.mlp.experts.*=mxfp4" : rules;
  const int default_group = fallback.kind == ModuleQuantization::Kind::affine ? fallback.group_size : 64;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos) end = text.size();
    const std::string rule = text.substr(start, end - start);
    const size_t eq = rule.find('=');
    if (eq == std::string::npos || eq == 0)
      throw Error("--quant-predicate: '" + rule + "' is not GLOB=SPEC (or a preset: mlx-lm)");
    rules_.emplace_back(rule.substr(0, eq), parse_spec(rule.substr(eq + 1), rule, default_group));
    start = end + 1;
  }
}

ModuleQuantization QuantPredicate::for_module(const std::string& path) const {
  for (const auto& [glob, spec] : rules_)
    if (fnmatch(glob.c_str(), path.c_str(), 0) == 0) return spec;
  return fallback_;
}

}  // namespace gptoss
