#include "grammar/schema_validator.h"

#include <cmath>

namespace gptoss::test {
namespace {

using Schema = nlohmann::ordered_json;
using Json = nlohmann::json;

class Validator {
 public:
  explicit Validator(const Schema& root) : root_(root) {}

  bool valid(const Schema& schema, const Json& value, const std::string& where) {
    if (schema.is_boolean()) return schema.get<bool>() || fail(where, "schema false");
    if (schema.contains("$ref")) {
      const auto ref = schema["$ref"].get<std::string>();
      if (!valid(root_.at(Schema::json_pointer(ref.substr(1))), value, where)) return false;
    }
    if (schema.contains("anyOf")) {
      bool any = false;
      for (const auto& alternative : schema["anyOf"]) any = any || Validator(root_).valid(alternative, value, where);
      if (!any) return fail(where, "no anyOf alternative matches");
    }
    if (schema.contains("oneOf")) {
      int matching = 0;
      for (const auto& alternative : schema["oneOf"]) matching += Validator(root_).valid(alternative, value, where);
      if (matching != 1) return fail(where, std::to_string(matching) + " oneOf alternatives match");
    }
    if (schema.contains("allOf"))
      for (const auto& part : schema["allOf"])
        if (!valid(part, value, where)) return false;
    if (schema.contains("enum")) {
      bool found = false;
      for (const auto& option : schema["enum"]) found = found || Json(option) == value;
      if (!found && !(value.is_null() && schema.value("nullable", false))) return fail(where, "not in enum");
    }
    if (schema.contains("const") && Json(schema["const"]) != value) return fail(where, "not the const");
    if (schema.contains("type") && !type_matches(schema, value)) return fail(where, "wrong type");
    if (value.is_object() && !valid_object(schema, value, where)) return false;
    if (value.is_array() && !valid_array(schema, value, where)) return false;
    if (value.is_string()) {
      const size_t length = code_points(value.get_ref<const std::string&>());
      if (schema.contains("minLength") && length < schema["minLength"].get<size_t>()) return fail(where, "too short");
      if (schema.contains("maxLength") && length > schema["maxLength"].get<size_t>()) return fail(where, "too long");
    }
    return true;
  }

  std::string why;

 private:
  bool fail(const std::string& where, const std::string& what) {
    why = where + ": " + what;
    return false;
  }

  static size_t code_points(const std::string& text) {
    size_t count = 0;
    for (const char c : text) count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return count;
  }

  static bool is_type(const std::string& type, const Json& value) {
    if (type == "object") return value.is_object();
    if (type == "array") return value.is_array();
    if (type == "string") return value.is_string();
    if (type == "number") return value.is_number();
    if (type == "integer")
      return value.is_number_integer() || (value.is_number_float() && std::floor(value.get<double>()) == value.get<double>());
    if (type == "boolean") return value.is_boolean();
    if (type == "null") return value.is_null();
    return false;
  }

  static bool type_matches(const Schema& schema, const Json& value) {
    if (value.is_null() && schema.value("nullable", false)) return true;
    const Schema& type = schema["type"];
    if (type.is_string()) return is_type(type.get<std::string>(), value);
    for (const auto& t : type)
      if (is_type(t.get<std::string>(), value)) return true;
    return false;
  }

  bool valid_object(const Schema& schema, const Json& value, const std::string& where) {
    if (schema.contains("required"))
      for (const auto& name : schema["required"])
        if (!value.contains(name.get<std::string>())) return fail(where, "missing " + name.get<std::string>());
    for (const auto& [key, member] : value.items()) {
      const std::string here = where + "/" + key;
      if (schema.contains("properties") && schema["properties"].contains(key)) {
        if (!valid(schema["properties"][key], member, here)) return false;
      } else if (schema.contains("additionalProperties")) {
        if (!valid(schema["additionalProperties"], member, here)) return false;
      }
    }
    return true;
  }

  bool valid_array(const Schema& schema, const Json& value, const std::string& where) {
    if (schema.contains("minItems") && value.size() < schema["minItems"].get<size_t>()) return fail(where, "too few items");
    if (schema.contains("maxItems") && value.size() > schema["maxItems"].get<size_t>()) return fail(where, "too many items");
    const bool legacy = schema.contains("items") && schema["items"].is_array();
    const Schema* prefix = legacy ? &schema["items"] : schema.contains("prefixItems") ? &schema["prefixItems"] : nullptr;
    const char* rest = legacy ? "additionalItems" : "items";
    for (size_t i = 0; i < value.size(); ++i) {
      const std::string here = where + "/" + std::to_string(i);
      if (prefix != nullptr && i < prefix->size()) {
        if (!valid((*prefix)[i], value[i], here)) return false;
      } else if (schema.contains(rest)) {
        if (!valid(schema[rest], value[i], here)) return false;
      }
    }
    return true;
  }

  const Schema& root_;
};

}  // namespace

bool validate_against_schema(const nlohmann::ordered_json& schema, const nlohmann::json& instance, std::string* why) {
  Validator validator(schema);
  const bool ok = validator.valid(schema, instance, "#");
  if (!ok && why != nullptr) *why = validator.why;
  return ok;
}

}  // namespace gptoss::test
