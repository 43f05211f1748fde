// Typed reads of a request body's fields. Every read names the field by its path in the body
// ("messages[2].content", "tools[0].function.name"), so that a wrong type or a value out of
// range becomes ApiError 400 whose `param` is that path, as OpenAI reports it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "server/api_error.h"

namespace gptoss::server {

// A value in the body and its path; absent when the body does not have it. JSON null counts as
// absent, as OpenAI's API reads an explicit null as "not given".
class Field {
 public:
  // The body itself (path ""): 400 unless it is a JSON object.
  static Field body(const nlohmann::json& json);

  // A member of this object (absent when missing): 400 unless this is an object.
  Field operator[](std::string_view key) const;
  // An element of this array; `index` < size().
  Field operator[](size_t index) const;

  bool present() const { return value_ != nullptr && !value_->is_null(); }
  const std::string& path() const { return path_; }
  const nlohmann::json& json() const { return *value_; }  // only when present()

  // Typed reads. An absent field is "missing required parameter", another type "invalid type";
  // each throws ApiError 400 naming path().
  std::string string() const;
  std::string non_empty_string() const;
  bool boolean() const;
  // A finite number in [min, max].
  double number(double min, double max) const;
  // A whole number (a JSON integer, or a number with no fraction such as 16.0) in [min, max].
  int64_t integer(int64_t min, int64_t max) const;
  // Any integer a 64-bit word holds, [-2^63, 2^64): its two's-complement bits (a seed).
  uint64_t integer_bits() const;
  // This must be an object; then its members can be read with operator[].
  const nlohmann::json& object() const;
  // The number of elements of this array, which must have at most `max_size`.
  size_t array(size_t max_size = SIZE_MAX) const;
  // A function or schema name: 1 to 64 of [A-Za-z0-9_-], OpenAI's rule. It goes into harmony
  // headers ("to=functions.NAME"), where a space or a control token would break the message.
  std::string identifier() const;
  // A string that must be one of `allowed`.
  std::string one_of(std::initializer_list<std::string_view> allowed) const;

  // Text given as a string or as an array of parts {"type": T, "text": "..."} whose types are
  // all in `text_types` (the parts' texts joined by newlines, so that they do not run
  // together); a part of another type is refused, naming its type: gpt-oss reads text only.
  std::string text(std::initializer_list<std::string_view> text_types) const;

  // 400 "Invalid value for '<path>': <why>" naming this field.
  ApiError invalid(const std::string& why) const;
  // 400 "Invalid type for '<path>': expected <expected>, but got <what it is>".
  ApiError wrong_type(const std::string& expected) const;

 private:
  Field(const nlohmann::json* value, std::string path) : value_(value), path_(std::move(path)) {}
  const nlohmann::json& require() const;  // the value, or 400 "missing required parameter"

  const nlohmann::json* value_;
  std::string path_;
};

}  // namespace gptoss::server
