#include "server/json_fields.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "io/json_limits.h"

namespace gptoss::server {
namespace {

// "'a', 'b' or 'c'"
std::string quoted_list(std::initializer_list<std::string_view> names) {
  std::string out;
  size_t i = 0;
  for (const auto name : names) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += "'" + std::string(name) + "'";
    ++i;
  }
  return out;
}

std::string range_text(int64_t min, int64_t max) {
  if (max == std::numeric_limits<int64_t>::max()) return "≥ " + std::to_string(min);
  return "in [" + std::to_string(min) + ", " + std::to_string(max) + "]";
}

std::string number_text(double value) {
  return nlohmann::json(value).dump();  // the shortest text that reads back as the value
}

}  // namespace

Field Field::body(const nlohmann::json& json) {
  const Field field(&json, "");
  if (!json.is_object())
    throw bad_request("The request body must be a JSON object, but got " + json_excerpt(json) + ".");
  return field;
}

Field Field::operator[](std::string_view key) const {
  const std::string path = path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  if (!present()) return Field(nullptr, path);
  if (!value_->is_object()) throw wrong_type("an object");
  const auto it = value_->find(key);
  return Field(it == value_->end() ? nullptr : &*it, path);
}

Field Field::operator[](size_t index) const {
  const std::string path = path_ + "[" + std::to_string(index) + "]";
  const bool inside = present() && value_->is_array() && index < value_->size();
  return Field(inside ? &(*value_)[index] : nullptr, path);
}

const nlohmann::json& Field::require() const {
  if (!present()) throw bad_request("Missing required parameter: '" + path_ + "'.", path_);
  return *value_;
}

ApiError Field::invalid(const std::string& why) const {
  return bad_request("Invalid value for '" + path_ + "': " + why + ".", path_);
}

ApiError Field::wrong_type(const std::string& expected) const {
  return bad_request("Invalid type for '" + path_ + "': expected " + expected + ", but got " +
                         json_excerpt(require()) + ".",
                     path_);
}

std::string Field::string() const {
  const auto& value = require();
  if (!value.is_string()) throw wrong_type("a string");
  return value.get<std::string>();
}

std::string Field::non_empty_string() const {
  std::string value = string();
  if (value.empty()) throw invalid("expected a non-empty string");
  return value;
}

bool Field::boolean() const {
  const auto& value = require();
  if (!value.is_boolean()) throw wrong_type("a boolean");
  return value.get<bool>();
}

double Field::number(double min, double max) const {
  const auto& value = require();
  if (!value.is_number()) throw wrong_type("a number");
  const double x = value.get<double>();
  if (!(x >= min && x <= max))  // false for NaN too
    throw invalid("expected a number in [" + number_text(min) + ", " + number_text(max) + "], but got " +
                  number_text(x));
  return x;
}

int64_t Field::integer(int64_t min, int64_t max) const {
  const auto& value = require();
  if (!value.is_number()) throw wrong_type("an integer");
  const auto out_of_range = [&] {
    return invalid("expected an integer " + range_text(min, max) + ", but got " + json_excerpt(value));
  };
  int64_t x = 0;
  if (value.is_number_unsigned()) {
    const auto u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) throw out_of_range();
    x = static_cast<int64_t>(u);
  } else if (value.is_number_integer()) {
    x = value.get<int64_t>();
  } else {
    const double d = value.get<double>();
    if (std::trunc(d) != d) throw wrong_type("an integer");
    if (!(d >= -0x1p63 && d < 0x1p63)) throw out_of_range();  // the cast below would be undefined
    x = static_cast<int64_t>(d);
  }
  if (x < min || x > max) throw out_of_range();
  return x;
}

uint64_t Field::integer_bits() const {
  const auto& value = require();
  if (!value.is_number()) throw wrong_type("an integer");
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_integer()) return static_cast<uint64_t>(value.get<int64_t>());
  const double d = value.get<double>();
  if (std::trunc(d) != d) throw wrong_type("an integer");
  if (!(d >= -0x1p63 && d < 0x1p64)) throw invalid("expected a 64-bit integer, but got " + json_excerpt(value));
  return d < 0 ? static_cast<uint64_t>(static_cast<int64_t>(d)) : static_cast<uint64_t>(d);
}

const nlohmann::json& Field::object() const {
  const auto& value = require();
  if (!value.is_object()) throw wrong_type("an object");
  return value;
}

size_t Field::array(size_t max_size) const {
  const auto& value = require();
  if (!value.is_array()) throw wrong_type("an array");
  if (value.size() > max_size)
    throw invalid("expected an array of at most " + std::to_string(max_size) + " elements, but got " +
                  std::to_string(value.size()));
  return value.size();
}

std::string Field::identifier() const {
  std::string name = string();
  const auto allowed = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  };
  if (name.empty() || name.size() > 64 || !std::all_of(name.begin(), name.end(), allowed))
    throw invalid("expected a name of 1 to 64 letters, digits, '_' or '-', but got '" + text_excerpt(name) + "'");
  return name;
}

std::string Field::one_of(std::initializer_list<std::string_view> allowed) const {
  std::string value = string();
  if (std::find(allowed.begin(), allowed.end(), value) == allowed.end())
    throw invalid("expected " + quoted_list(allowed) + ", but got '" + text_excerpt(value) + "'");
  return value;
}

std::string Field::text(std::initializer_list<std::string_view> text_types) const {
  const auto& value = require();
  if (value.is_string()) return value.get<std::string>();
  if (!value.is_array()) throw wrong_type("a string or an array of text parts");
  std::string text;
  for (size_t i = 0; i < value.size(); ++i) {
    const Field part = (*this)[i];
    const Field type = part["type"];
    const std::string name = type.string();
    if (std::find(text_types.begin(), text_types.end(), name) == text_types.end())
      throw type.invalid("gpt-oss reads text only: expected " + quoted_list(text_types) + " parts, but got '" +
                         text_excerpt(name) + "'");
    if (i > 0) text += '\n';
    text += part["text"].string();
  }
  return text;
}

}  // namespace gptoss::server
