// Element types of safetensors files (the names are the format's own).
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace gptoss {

enum class DType { BOOL, U8, I8, U16, I16, F16, BF16, U32, I32, F32, U64, I64, F64,
                   F8_E4M3, F8_E5M2, F8_E8M0, C64 };

size_t dtype_size(DType dtype);
std::string_view dtype_name(DType dtype);
std::optional<DType> dtype_from_name(std::string_view name);

}  // namespace gptoss
