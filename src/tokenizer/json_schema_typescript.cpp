#include "tokenizer/json_schema_typescript.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

#include "gptoss/error.h"
#include "io/json_limits.h"

namespace gptoss {

namespace {

// Properties must come out in the order the schema lists them (harmony's serde_json keeps it).
using Json = nlohmann::ordered_json;

const Json* get(const Json& schema, const char* key) {
  if (!schema.is_object()) return nullptr;
  const auto it = schema.find(key);
  return it == schema.end() ? nullptr : &*it;
}

const std::string* get_string(const Json& schema, const char* key) {
  const Json* value = get(schema, key);
  return value != nullptr && value->is_string() ? value->get_ptr<const std::string*>() : nullptr;
}

bool is_enum(const Json& schema) {
  const Json* values = get(schema, "enum");
  return values != nullptr && values->is_array() && !values->empty();
}

bool nullable(const Json& schema) {
  const Json* value = get(schema, "nullable");
  return value != nullptr && value->is_boolean() && value->get<bool>();
}

// "default: …" as harmony writes it: a string in quotes, except an enum's, which properties
// write bare and a top-level oneOf writes as JSON.
std::string default_comment(const Json& schema, const Json& value, bool enum_as_json) {
  if (!value.is_string()) return "default: " + value.dump();
  const auto& text = value.get_ref<const std::string&>();
  if (!is_enum(schema)) return "default: \"" + text + "\"";
  return "default: " + (enum_as_json ? value.dump() : text);
}

std::string with_null(std::string type, const Json& schema) {
  if (nullable(schema) && type.find("null") == std::string::npos) type += " | null";
  return type;
}

std::string to_typescript(const Json& schema, const std::string& indent);

// One alternative of a oneOf: its type, then `description` (if given) and its default as a
// trailing comment.
std::string one_of_variant(const Json& variant, const std::string& indent, const std::string* description,
                           bool top_level) {
  std::string out = with_null(to_typescript(variant, indent + "   "), variant);
  std::vector<std::string> comments;
  if (description != nullptr) comments.push_back(*description);
  if (const Json* value = get(variant, "default")) comments.push_back(default_comment(variant, *value, top_level));
  if (!comments.empty()) {
    out += " //";
    for (const auto& c : comments) out += " " + c;
  }
  return out;
}

// A property whose schema is a oneOf: comments above, then one line per alternative.
void one_of_property(std::string& out, const std::string& name, bool required, const Json& property,
                     const Json& variants, const std::string& indent) {
  const std::string* description = get_string(property, "description");
  // The property's description is not repeated when the first alternative has the same one.
  const std::string* first_description = variants.empty() ? nullptr : get_string(variants[0], "description");
  const bool described_above = description != nullptr && (first_description == nullptr || *first_description != *description);
  if (described_above) out += indent + "// " + *description + "\n";
  if (const Json* value = get(property, "default")) out += indent + "// " + default_comment(property, *value, false) + "\n";
  out += indent + name + (required ? "" : "?") + ":\n";
  for (size_t i = 0; i < variants.size(); ++i) {
    // Each alternative's own description, unless it is the property's (or was written above).
    const std::string* own = get_string(variants[i], "description");
    const bool repeated = (i == 0 && described_above) || (own != nullptr && description != nullptr && *own == *description);
    out += indent + " | " + one_of_variant(variants[i], indent, repeated ? nullptr : own, false) + "\n";
  }
  out += indent + ",\n";
}

std::string object_type(const Json& schema, const std::string& indent) {
  std::string out;
  if (const std::string* description = get_string(schema, "description")) out += indent + "// " + *description + "\n";
  out += "{\n";
  const Json* properties = get(schema, "properties");
  if (properties != nullptr && properties->is_object()) {
    std::vector<std::string> required;
    if (const Json* list = get(schema, "required"); list != nullptr && list->is_array())
      for (const auto& name : *list)
        if (name.is_string()) required.push_back(name.get<std::string>());
    for (const auto& [name, property] : properties->items()) {
      const bool is_required = std::find(required.begin(), required.end(), name) != required.end();
      if (const std::string* title = get_string(property, "title")) out += indent + "// " + *title + "\n" + indent + "//\n";
      const Json* variants = get(property, "oneOf");
      if (variants == nullptr)
        if (const std::string* description = get_string(property, "description")) out += indent + "// " + *description + "\n";
      if (const Json* examples = get(property, "examples"); examples != nullptr && examples->is_array() && !examples->empty()) {
        out += indent + "// Examples:\n";
        for (const auto& example : *examples)
          if (example.is_string()) out += indent + "// - \"" + example.get<std::string>() + "\"\n";
      }
      if (variants != nullptr && variants->is_array()) {
        one_of_property(out, name, is_required, property, *variants, indent);
        continue;
      }
      out += indent + name + (is_required ? "" : "?") + ": " + with_null(to_typescript(property, indent + "    "), property) + ",";
      if (variants == nullptr)
        if (const Json* value = get(property, "default")) out += " // " + default_comment(property, *value, false);
      out += "\n";
    }
  }
  return out + indent + "}";
}

std::string to_typescript(const Json& schema, const std::string& indent) {
  if (const Json* variants = get(schema, "oneOf"); variants != nullptr && variants->is_array()) {
    std::string out;
    for (size_t i = 0; i < variants->size(); ++i)
      out += (i == 0 ? "\n" : "") + indent + " | " +
             one_of_variant((*variants)[i], indent, get_string((*variants)[i], "description"), true) +
             (i + 1 < variants->size() ? "\n" : "");
    return out;
  }
  const Json* type = get(schema, "type");
  if (type != nullptr && type->is_array()) {
    std::string out;
    for (const auto& t : *type) {
      if (!t.is_string()) continue;
      if (!out.empty()) out += " | ";
      out += t == "integer" ? "number" : t.get<std::string>();
    }
    if (!out.empty()) return out;
  }
  if (type == nullptr || !type->is_string()) return "any";
  const auto& name = type->get_ref<const std::string&>();
  if (name == "object") return object_type(schema, indent);
  if (name == "string") {
    std::string out;
    if (const Json* values = get(schema, "enum"); values != nullptr && values->is_array())
      for (const auto& value : *values)
        if (value.is_string()) out += (out.empty() ? "\"" : " | \"") + value.get<std::string>() + "\"";
    return out.empty() ? "string" : out;
  }
  if (name == "number" || name == "integer") return "number";
  if (name == "boolean") return "boolean";
  if (name == "array") {
    const Json* items = get(schema, "items");
    return items == nullptr ? "Array<any>" : to_typescript(*items, indent) + "[]";
  }
  return "any";
}

}  // namespace

std::string json_schema_to_typescript(std::string_view schema, const std::string& what) {
  Json parsed;
  try {
    check_json_depth(schema, what);
    parsed = Json::parse(schema);
  } catch (const Json::parse_error& e) {
    throw Error(what + " are not valid JSON: " + text_excerpt(e.what()));
  }
  return to_typescript(parsed, "");
}

}  // namespace gptoss
