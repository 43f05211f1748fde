// JSON Schema → Grammar, for structured outputs (response_format json_schema / json_object) and
// tool-call arguments: whatever the matcher lets a model write parses as JSON and is valid
// against the schema. Where the schema allows several spellings, one is chosen, so the language
// generated is a subset of the schema's instances:
//
// - `type` (object, array, string, number, integer, boolean, null, or a list of them;
//   `nullable: true` adds null). Without `type`, the kinds the other keywords imply (object for
//   properties/required/additionalProperties, array for items/prefixItems/minItems/maxItems,
//   string for minLength/maxLength), or any value when they imply none. `{}` and `true`: any
//   JSON value; `false`: none.
// - Objects: `properties` are written in the schema's order (pass an ordered_json to keep it);
//   `required` ones always, the others may be skipped. `additionalProperties` false, true or a
//   schema: other keys come after the declared ones, are written without escapes and never repeat
//   a declared key. When it is absent, other keys are allowed only if no property is declared
//   (JSON Schema would allow them; leaving them out keeps models to the declared shape). A
//   required key that `properties` does not declare is written after them, with the
//   additionalProperties schema.
// - Arrays: `items`, `prefixItems` (and the older `items: [...]` with `additionalItems`),
//   `minItems`, `maxItems`.
// - Strings: `minLength`, `maxLength` (in code points).
// - `enum` and `const` (their values written as nlohmann dumps them, compact), kept only when
//   they are of the `type` given beside them.
// - `anyOf` and `oneOf`, both as a choice of their alternatives; `allOf` of a single schema.
// - `$ref` to "#" or any JSON pointer into the same document ("#/$defs/x", "#/definitions/x");
//   recursive schemas work, nesting at most kMaxDepth deep.
// - Annotations (`title`, `description`, `default`, `examples`, `format`, `$schema`, `$id`, …)
//   and unknown keywords are ignored.
//
// Everything else that changes which values are valid (`pattern`, `minimum`, `multipleOf`, `not`,
// `if`/`then`/`else`, `patternProperties`, `dependentRequired`, `uniqueItems: true`, `allOf` of
// several schemas, constraints beside `$ref`/`anyOf`/`oneOf`/`allOf`/`enum`, …) throws
// UnsupportedSchema, naming the keyword and where it is; so does a malformed schema, and one
// that admits no value at all.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "gptoss/error.h"
#include "grammar/grammar.h"

namespace gptoss::grammar {

class UnsupportedSchema : public Error {
 public:
  // `pointer`: where in the schema, as a JSON pointer ("" for the root, "/properties/name");
  // `keyword`: the keyword at fault, empty when none is.
  UnsupportedSchema(std::string pointer, std::string keyword, const std::string& reason);
  const std::string& pointer() const { return pointer_; }
  const std::string& keyword() const { return keyword_; }

 private:
  std::string pointer_, keyword_;
};

Grammar compile_json_schema(const nlohmann::ordered_json& schema);
// nlohmann::json sorts an object's keys, so properties come out in alphabetical order.
Grammar compile_json_schema(const nlohmann::json& schema);

// response_format {"type": "json_object"}: any JSON object.
Grammar json_object_grammar();

}  // namespace gptoss::grammar
