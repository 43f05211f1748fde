#include "grammar/json_schema.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace gptoss::grammar {
namespace {

using Json = nlohmann::ordered_json;

// Deeper schemas are refused rather than recursed into (the server's JSON parser stops at 64
// levels already; this guards other callers).
constexpr int kMaxSchemaDepth = 64;

// Keywords that change which values are valid and that the grammar does not implement.
constexpr std::array kUnsupportedKeywords = {
    "pattern",          "patternProperties", "propertyNames",         "dependentRequired", "dependentSchemas",
    "dependencies",     "not",               "if",                    "then",              "else",
    "contains",         "minContains",       "maxContains",           "minProperties",     "maxProperties",
    "multipleOf",       "minimum",           "maximum",               "exclusiveMinimum",  "exclusiveMaximum",
    "unevaluatedItems", "unevaluatedProperties", "$dynamicRef",       "$recursiveRef",
};

// Keywords that constrain values, for refusing them beside a keyword that must stand alone.
constexpr std::array kConstrainingKeywords = {
    "type",     "enum",          "const",     "properties", "required",  "additionalProperties",
    "items",    "prefixItems",   "additionalItems", "minItems", "maxItems", "minLength",
    "maxLength", "anyOf",        "oneOf",     "allOf",      "$ref",
};

constexpr std::array kObjectKeywords = {"properties", "required", "additionalProperties"};
constexpr std::array kArrayKeywords = {"items", "prefixItems", "additionalItems", "minItems", "maxItems"};
constexpr std::array kStringKeywords = {"minLength", "maxLength"};

enum class Type : uint8_t { object, array, string, number, integer, boolean, null };

constexpr std::array<std::pair<std::string_view, Type>, 7> kTypeNames = {{
    {"object", Type::object},
    {"array", Type::array},
    {"string", Type::string},
    {"number", Type::number},
    {"integer", Type::integer},
    {"boolean", Type::boolean},
    {"null", Type::null},
}};

std::string escape_pointer_token(std::string_view token) {
  std::string out;
  for (const char c : token) {
    if (c == '~') out += "~0";
    else if (c == '/') out += "~1";
    else out += c;
  }
  return out;
}

// JSON text of `value`, compact, with invalid UTF-8 replaced rather than thrown on.
std::string json_text(const Json& value) { return value.dump(-1, ' ', false, Json::error_handler_t::replace); }

bool has(const Json& schema, std::string_view keyword) { return schema.contains(keyword); }

bool is_of_type(const Json& value, Type type) {
  switch (type) {
    case Type::object: return value.is_object();
    case Type::array: return value.is_array();
    case Type::string: return value.is_string();
    case Type::number: return value.is_number();
    case Type::integer: return value.is_number_integer();
    case Type::boolean: return value.is_boolean();
    case Type::null: return value.is_null();
  }
  return false;
}

class SchemaCompiler {
 public:
  explicit SchemaCompiler(const Json& root) : root_(root) {}

  Grammar compile() {
    Node document;
    document.kind = NodeKind::document;
    const NodeId id = add(std::move(document));
    const NodeId value = compile_schema(root_, "", 0);
    nodes_[id].value = value;
    // $ref targets are compiled here rather than where they are met, so that a long chain of
    // definitions referring to each other does not recurse.
    while (!pending_refs_.empty()) {
      const auto [alias, target] = pending_refs_.back();
      pending_refs_.pop_back();
      const NodeId compiled = compile_schema(resolve(target.first, target.second), target.first.substr(1), 0);
      nodes_[alias].alternatives = {compiled};
    }
    Grammar grammar(std::move(nodes_), id);
    if (!grammar.admits_a_value())
      throw UnsupportedSchema("", "", "the schema admits no JSON value (within " + std::to_string(kMaxDepth) + " levels of nesting)");
    return grammar;
  }

 private:
  NodeId add(Node node) {
    nodes_.push_back(std::move(node));
    return static_cast<NodeId>(nodes_.size() - 1);
  }

  NodeId choice(std::vector<NodeId> alternatives) {
    if (alternatives.size() == 1) return alternatives[0];
    Node node;
    node.kind = NodeKind::choice;
    node.alternatives = std::move(alternatives);
    return add(std::move(node));
  }

  NodeId literals(std::vector<std::string> texts) {
    Node node;
    node.kind = NodeKind::literals;
    node.literals = std::move(texts);
    return add(std::move(node));
  }

  NodeId no_value() { return choice({}); }

  // Any JSON value (built once per grammar; it refers to itself).
  NodeId any_value() {
    if (any_value_) return *any_value_;
    const NodeId id = add(Node{});  // a choice, filled in below
    any_value_ = id;
    Node object;
    object.kind = NodeKind::object;
    object.object.additional_allowed = true;
    object.object.additional = id;
    Node array;
    array.kind = NodeKind::array;
    array.array.items = id;
    Node string;
    string.kind = NodeKind::string;
    Node number;
    number.kind = NodeKind::number;
    std::vector<NodeId> alternatives = {add(std::move(object)), add(std::move(array)), add(std::move(string)),
                                        add(std::move(number)), literals({"true", "false", "null"})};
    nodes_[id].alternatives = std::move(alternatives);
    return id;
  }

  NodeId compile_schema(const Json& schema, const std::string& pointer, int depth) {
    if (depth > kMaxSchemaDepth)
      throw UnsupportedSchema(pointer, "", "nested deeper than " + std::to_string(kMaxSchemaDepth) + " levels");
    if (schema.is_boolean()) return schema.get<bool>() ? any_value() : no_value();
    if (!schema.is_object()) throw UnsupportedSchema(pointer, "", "a schema must be an object or a boolean");
    for (const char* keyword : kUnsupportedKeywords)
      if (has(schema, keyword)) throw UnsupportedSchema(pointer, keyword, "not supported");
    if (const auto it = schema.find("uniqueItems"); it != schema.end() && *it != Json(false))
      throw UnsupportedSchema(pointer, "uniqueItems", "not supported");

    const bool nullable = schema.value("nullable", Json(false)) == Json(true);
    const auto with_null = [&](NodeId id) { return nullable ? choice({id, literals({"null"})}) : id; };
    for (const char* keyword : {"$ref", "anyOf", "oneOf", "allOf"}) {
      if (!has(schema, keyword)) continue;
      refuse_beside(schema, pointer, keyword);
      const std::string here = pointer + "/" + escape_pointer_token(keyword);
      if (std::string_view(keyword) == "$ref") return with_null(reference(schema.at(keyword), here));
      return with_null(composition(schema.at(keyword), keyword, here, depth));
    }
    if (has(schema, "enum") || has(schema, "const")) return enumeration(schema, pointer, nullable);

    std::vector<NodeId> alternatives;
    const std::vector<Type> types = types_of(schema, pointer, nullable);
    const bool has_number = std::find(types.begin(), types.end(), Type::number) != types.end();
    for (const Type type : types) {
      switch (type) {
        case Type::object: alternatives.push_back(object(schema, pointer, depth)); break;
        case Type::array: alternatives.push_back(array(schema, pointer, depth)); break;
        case Type::string: alternatives.push_back(string(schema, pointer)); break;
        case Type::number:
        case Type::integer:
          if (type == Type::integer && has_number) break;  // number includes the integers
          alternatives.push_back(number(type == Type::integer));
          break;
        case Type::boolean: alternatives.push_back(literals({"true", "false"})); break;
        case Type::null: alternatives.push_back(literals({"null"})); break;
      }
    }
    return choice(std::move(alternatives));
  }

  // `keyword` ($ref, anyOf, oneOf, allOf) stands alone: other constraints beside it would have
  // to hold at the same time, which a choice of grammars cannot express.
  static void refuse_beside(const Json& schema, const std::string& pointer, const char* keyword) {
    for (const char* other : kConstrainingKeywords)
      if (std::string_view(other) != keyword && has(schema, other))
        throw UnsupportedSchema(pointer, other, std::string("not supported beside '") + keyword + "'");
  }

  NodeId composition(const Json& schemas, const char* keyword, const std::string& pointer, int depth) {
    if (!schemas.is_array() || schemas.empty())
      throw UnsupportedSchema(pointer, keyword, "must be a non-empty array of schemas");
    if (std::string_view(keyword) == "allOf" && schemas.size() > 1)
      throw UnsupportedSchema(pointer, keyword, "of more than one schema is not supported");
    std::vector<NodeId> alternatives;
    for (size_t i = 0; i < schemas.size(); ++i)
      alternatives.push_back(compile_schema(schemas[i], pointer + "/" + std::to_string(i), depth + 1));
    return choice(std::move(alternatives));
  }

  // A node standing for the schema that `ref` points to: an alias, compiled later (see compile).
  NodeId reference(const Json& ref, const std::string& pointer) {
    if (!ref.is_string()) throw UnsupportedSchema(pointer, "$ref", "must be a string");
    const auto& text = ref.get_ref<const std::string&>();
    if (const auto it = refs_.find(text); it != refs_.end()) return it->second;
    if (text != "#" && text.rfind("#/", 0) != 0)
      throw UnsupportedSchema(pointer, "$ref", "only references into the same schema (\"#/...\") are supported, not '" + text + "'");
    resolve(text, pointer);  // reports a bad reference where it is written
    const NodeId alias = add(Node{});
    refs_.emplace(text, alias);
    pending_refs_.push_back({alias, {text, pointer}});
    return alias;
  }

  const Json& resolve(const std::string& ref, const std::string& pointer) const {
    try {
      const Json::json_pointer target(ref.substr(1));
      if (root_.contains(target)) return root_.at(target);
    } catch (const nlohmann::json::exception&) {
      // a malformed pointer: reported below
    }
    throw UnsupportedSchema(pointer, "$ref", "'" + ref + "' does not point to a schema in this document");
  }

  NodeId enumeration(const Json& schema, const std::string& pointer, bool nullable) {
    for (const char* other : kConstrainingKeywords) {
      const std::string_view name = other;
      if (name != "type" && name != "enum" && name != "const" && has(schema, other))
        throw UnsupportedSchema(pointer, other, "not supported beside 'enum' or 'const'");
    }
    std::vector<Json> values;
    if (const auto it = schema.find("enum"); it != schema.end()) {
      if (!it->is_array()) throw UnsupportedSchema(pointer, "enum", "must be an array");
      values.assign(it->begin(), it->end());
    }
    if (const auto it = schema.find("const"); it != schema.end()) {
      if (has(schema, "enum")) std::erase_if(values, [&](const Json& v) { return v != *it; });
      else values = {*it};
    }
    std::vector<std::string> texts;
    const std::vector<Type> types = has(schema, "type") ? types_of(schema, pointer, false) : std::vector<Type>{};
    for (const Json& value : values) {
      const bool typed = types.empty() || std::any_of(types.begin(), types.end(), [&](Type t) { return is_of_type(value, t); });
      if (typed) texts.push_back(json_text(value));
    }
    if (nullable) texts.push_back("null");
    return literals(std::move(texts));
  }

  // The kinds of value `schema` allows: its `type`, or those its keywords imply.
  static std::vector<Type> types_of(const Json& schema, const std::string& pointer, bool nullable) {
    std::vector<Type> types;
    const auto add_type = [&](Type t) {
      if (std::find(types.begin(), types.end(), t) == types.end()) types.push_back(t);
    };
    if (const auto it = schema.find("type"); it != schema.end()) {
      const auto add_named = [&](const Json& name) {
        if (name.is_string())
          for (const auto& [text, type] : kTypeNames)
            if (name.get_ref<const std::string&>() == text) return add_type(type);
        throw UnsupportedSchema(pointer, "type", "unknown type " + json_text(name).substr(0, 60));
      };
      if (it->is_array()) {
        for (const Json& name : *it) add_named(name);
      } else {
        add_named(*it);
      }
    } else {
      const auto any_of = [&](const auto& keywords) {
        return std::any_of(keywords.begin(), keywords.end(), [&](const char* k) { return has(schema, k); });
      };
      if (any_of(kObjectKeywords)) add_type(Type::object);
      if (any_of(kArrayKeywords)) add_type(Type::array);
      if (any_of(kStringKeywords)) add_type(Type::string);
      if (types.empty())
        for (const auto& [text, type] : kTypeNames)
          if (type != Type::integer) add_type(type);
    }
    if (nullable) add_type(Type::null);
    return types;
  }

  static uint32_t count(const Json& schema, const char* keyword, const std::string& pointer, uint32_t absent) {
    const auto it = schema.find(keyword);
    if (it == schema.end()) return absent;
    const double value = it->is_number() ? it->get<double>() : -1;
    if (!(value >= 0) || std::floor(value) != value)
      throw UnsupportedSchema(pointer, keyword, "must be a non-negative integer");
    return value >= static_cast<double>(kUnbounded) ? kUnbounded : static_cast<uint32_t>(value);
  }

  NodeId string(const Json& schema, const std::string& pointer) {
    Node node;
    node.kind = NodeKind::string;
    node.string.min_length = count(schema, "minLength", pointer, 0);
    node.string.max_length = count(schema, "maxLength", pointer, kUnbounded);
    return add(std::move(node));
  }

  NodeId number(bool integer) {
    Node node;
    node.kind = NodeKind::number;
    node.integer = integer;
    return add(std::move(node));
  }

  NodeId object(const Json& schema, const std::string& pointer, int depth) {
    ObjectRule rule;
    if (const auto it = schema.find("properties"); it != schema.end()) {
      if (!it->is_object()) throw UnsupportedSchema(pointer, "properties", "must be an object");
      for (const auto& [name, property] : it->items()) {
        const std::string here = pointer + "/properties/" + escape_pointer_token(name);
        rule.properties.push_back({key_text(name), compile_schema(property, here, depth + 1), false});
      }
    }
    const auto additional = schema.find("additionalProperties");
    if (additional == schema.end()) {
      rule.additional_allowed = rule.properties.empty();
    } else if (!additional->is_boolean() || additional->get<bool>()) {
      rule.additional_allowed = true;
      rule.additional = compile_schema(*additional, pointer + "/additionalProperties", depth + 1);
    }
    if (rule.additional_allowed && additional == schema.end()) rule.additional = any_value();
    if (const auto it = schema.find("required"); it != schema.end()) {
      if (!it->is_array()) throw UnsupportedSchema(pointer, "required", "must be an array of strings");
      for (const Json& name : *it) {
        if (!name.is_string()) throw UnsupportedSchema(pointer, "required", "must be an array of strings");
        const std::string key = key_text(name.get_ref<const std::string&>());
        const auto declared = std::find_if(rule.properties.begin(), rule.properties.end(),
                                           [&](const Property& p) { return p.key == key; });
        if (declared != rule.properties.end()) {
          declared->required = true;
          continue;
        }
        // Not declared: its value follows additionalProperties (absent: any value).
        const bool refused = additional != schema.end() && *additional == Json(false);
        const NodeId value = refused ? no_value() : additional == schema.end() ? any_value() : rule.additional;
        rule.properties.push_back({key, value, true});
      }
    }
    Node node;
    node.kind = NodeKind::object;
    node.object = std::move(rule);
    return add(std::move(node));
  }

  // A property name as written between the quotes.
  static std::string key_text(const std::string& name) {
    const std::string quoted = json_text(Json(name));
    return quoted.substr(1, quoted.size() - 2);
  }

  NodeId array(const Json& schema, const std::string& pointer, int depth) {
    ArrayRule rule;
    const auto schemas = [&](const Json& list, const std::string& here) {
      for (size_t i = 0; i < list.size(); ++i)
        rule.prefix_items.push_back(compile_schema(list[i], here + "/" + std::to_string(i), depth + 1));
    };
    // The rest: items beyond the prefix (absent: any value).
    const auto rest = [&](const char* keyword) {
      const auto it = schema.find(keyword);
      if (it == schema.end()) {
        rule.items = any_value();
      } else if (*it == Json(false)) {
        rule.more_items_allowed = false;
      } else {
        rule.items = compile_schema(*it, pointer + "/" + keyword, depth + 1);
      }
    };
    const auto prefix = schema.find("prefixItems");
    const auto items = schema.find("items");
    if (prefix != schema.end()) {
      if (!prefix->is_array()) throw UnsupportedSchema(pointer, "prefixItems", "must be an array of schemas");
      schemas(*prefix, pointer + "/prefixItems");
      rest("items");
    } else if (items != schema.end() && items->is_array()) {
      schemas(*items, pointer + "/items");  // the draft-04 form of prefixItems
      rest("additionalItems");
    } else {
      rest("items");
    }
    rule.min_items = count(schema, "minItems", pointer, 0);
    rule.max_items = count(schema, "maxItems", pointer, kUnbounded);
    Node node;
    node.kind = NodeKind::array;
    node.array = std::move(rule);
    return add(std::move(node));
  }

  const Json& root_;
  std::vector<Node> nodes_;
  std::optional<NodeId> any_value_;
  std::map<std::string, NodeId> refs_;
  // (alias node, (reference, where it was written))
  std::vector<std::pair<NodeId, std::pair<std::string, std::string>>> pending_refs_;
};

std::string describe(const std::string& pointer, const std::string& keyword, const std::string& reason) {
  std::string where = "#" + pointer;
  return "JSON schema: " + (keyword.empty() ? where : "'" + keyword + "' at " + where) + ": " + reason;
}

}  // namespace

UnsupportedSchema::UnsupportedSchema(std::string pointer, std::string keyword, const std::string& reason)
    : Error(describe(pointer, keyword, reason)), pointer_(std::move(pointer)), keyword_(std::move(keyword)) {}

Grammar compile_json_schema(const nlohmann::ordered_json& schema) { return SchemaCompiler(schema).compile(); }

Grammar compile_json_schema(const nlohmann::json& schema) { return compile_json_schema(nlohmann::ordered_json(schema)); }

Grammar json_object_grammar() { return compile_json_schema(nlohmann::ordered_json{{"type", "object"}}); }

}  // namespace gptoss::grammar
