// Which modules a conversion quantizes, and how: `--quant-predicate RULES`.
//
// RULES is a preset name or a comma-separated list of GLOB=SPEC, matched against module paths
// (e.g. "model.layers.3.mlp.router") in order, the first match winning; modules no rule
// matches get the default (--q-bits/--q-group-size with -q, else unquantized). SPEC is
//   B or B/G   MLX affine, B bits (2, 3, 4, 5, 6, 8), group size G (32, 64, 128; default the
//              default group size)
//   mxfp4      MXFP4 (experts of an MXFP4 checkpoint are copied as they are, bit for bit)
//   none       not quantized: stored in --dtype
// Presets: "mlx-lm" = "*.mlp.router=8/64,*.mlp.experts.*=mxfp4", what mlx-lm ≥ 0.27 writes for
// gpt-oss.
#pragma once

#include <string>
#include <vector>

namespace gptoss {

struct ModuleQuantization {
  enum class Kind { none, affine, mxfp4 };
  Kind kind = Kind::none;
  int bits = 0;
  int group_size = 0;
  bool operator==(const ModuleQuantization&) const = default;
};

class QuantPredicate {
 public:
  // Throws Error naming the rule that does not parse.
  QuantPredicate(const std::string& rules, ModuleQuantization fallback);
  ModuleQuantization for_module(const std::string& path) const;
  const ModuleQuantization& fallback() const { return fallback_; }

 private:
  std::vector<std::pair<std::string, ModuleQuantization>> rules_;
  ModuleQuantization fallback_;
};

}  // namespace gptoss
