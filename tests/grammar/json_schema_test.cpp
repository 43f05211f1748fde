// The schema compiler, keyword by keyword: for each schema, documents the grammar must accept
// and documents it must refuse (verdicts written by hand from the JSON Schema specification and
// the subset json_schema.h documents), then the schemas it must refuse to compile.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "grammar/grammar_fixture.h"

namespace gptoss::test {
namespace {

using grammar::UnsupportedSchema;

struct Expectation {
  std::string schema;
  std::vector<std::string> accepted;
  std::vector<std::string> refused;
};

void check(const Expectation& e) {
  const grammar::Grammar g = compile_schema_text(e.schema);
  for (const auto& text : e.accepted) EXPECT_TRUE(accepts(g, text)) << "schema " << e.schema << "\nshould accept " << text;
  for (const auto& text : e.refused) EXPECT_FALSE(accepts(g, text)) << "schema " << e.schema << "\nshould refuse " << text;
}

TEST(JsonSchemaTest, ScalarTypes) {
  check({R"({"type": "string"})", {R"("abc")", R"("")", R"("caf\u00e9")"}, {"abc", "1", "null", R"("abc)"}});
  check({R"({"type": "number"})", {"1", "-0.5", "1e10", "2.5E-3", "0", "-0", "1E+2"},
         {"01", "1.", ".5", "+1", R"("1")", "1e", "-", "1.e5", "- 1"}});
  check({R"({"type": "integer"})", {"0", "-12", "123456789012345678"}, {"1.0", "1e2", "-01", "0.5"}});
  check({R"({"type": "boolean"})", {"true", "false"}, {"null", "1", "tru", "truee", R"("true")"}});
  check({R"({"type": "null"})", {"null"}, {"nul", "false", "{}"}});
}

TEST(JsonSchemaTest, ListsOfTypesAndNullable) {
  check({R"({"type": ["string", "null"]})", {R"("x")", "null"}, {"1", "false"}});
  check({R"({"type": ["integer", "number"]})", {"1", "1.5"}, {R"("1")"}});
  check({R"({"type": "integer", "nullable": true})", {"3", "null"}, {"3.5", R"("3")"}});
}

TEST(JsonSchemaTest, PropertiesInDeclaredOrderRequiredOnesAlways) {
  check({R"({"type": "object", "properties": {"b": {"type": "integer"}, "a": {"type": "string"}},
             "required": ["b"], "additionalProperties": false})",
         {R"({"b":1})", R"({"b":1,"a":"x"})", R"({ "b" : 1 , "a" : "x" })", "{\n  \"b\": 1,\n  \"a\": \"x\"\n}"},
         {"{}", R"({"a":"x","b":1})", R"({"b":1,"c":2})", R"({"b":"1"})", R"({"b":1,"b":2})", R"({"b":1,})",
          R"({"b":1 "a":"x"})", R"({"b"1})"}});
}

TEST(JsonSchemaTest, OptionalPropertiesMayBeSkippedButNotReordered) {
  const std::string schema = R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"},
                                 "c": {"type": "integer"}}, "additionalProperties": false})";
  check({schema, {"{}", R"({"a":1})", R"({"c":1})", R"({"a":1,"c":1})", R"({"b":1,"c":2})", R"({"a":1,"b":2,"c":3})"},
         {R"({"c":1,"a":1})", R"({"a":1,"a":1})", R"({"d":1})", "{,}"}});
  check({R"({"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}}, "required": ["b"]})",
         {R"({"b":1})", R"({"a":1,"b":1})"}, {R"({"a":1})", "{}"}});
}

TEST(JsonSchemaTest, WithoutAdditionalPropertiesOnlyDeclaredKeysAreWritten) {
  check({R"({"type": "object", "properties": {"a": {"type": "integer"}}})", {"{}", R"({"a":1})"}, {R"({"a":1,"b":2})", R"({"b":2})"}});
  check({R"({"type": "object"})", {"{}", R"({"a":[1,{"b":null}],"c":"d","":true})"}, {"[]", R"({"a"})", R"({"a":})"}});
}

TEST(JsonSchemaTest, AdditionalPropertiesFollowTheDeclaredOnes) {
  check({R"({"type": "object", "properties": {"id": {"type": "integer"}}, "additionalProperties": {"type": "number"}})",
         {"{}", R"({"id":1,"x":2.5})", R"({"x":1})", R"({"i":1})", R"({"idx":1,"y":2})",
          R"({"":1})", R"({"é":1})"},
         {R"({"id":1,"id":2})", R"({"x":"s"})", R"({"x\n":1})", R"({"\u0078":1})", R"({"x":1,"id":1})", R"({"id":1.5})"}});
  check({R"({"type": "object", "properties": {"a": {"type": "integer"}}, "additionalProperties": true})",
         {R"({"a":1,"b":[true]})", R"({"b":{}})"}, {R"({"a":"x"})"}});
  check({R"({"type": "object", "additionalProperties": false})", {"{}"}, {R"({"a":1})"}});
}

TEST(JsonSchemaTest, RequiredKeysThatAreNotDeclaredFollowAdditionalProperties) {
  check({R"({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["z"],
             "additionalProperties": {"type": "boolean"}})",
         {R"({"z":true})", R"({"a":1,"z":false})"}, {R"({"a":1})", R"({"z":1})", "{}"}});
  check({R"({"type": "object", "required": ["k"]})", {R"({"k":[1]})", R"({"k":null})"}, {"{}"}});
}

TEST(JsonSchemaTest, Items) {
  check({R"({"type": "array", "items": {"type": "integer"}})", {"[]", "[1,2,3]", "[ 1 , 2 ]", "[\n1\n]"},
         {R"([1,"a"])", "[1,]", "[,1]", "[1 2]", "["}});
  check({R"({"type": "array"})", {"[]", R"([1,"a",[null],{}])"}, {"{}"}});
}

TEST(JsonSchemaTest, PrefixItems) {
  check({R"({"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}], "items": false})",
         {"[]", R"(["a"])", R"(["a",1])"}, {R"(["a",1,2])", "[1]", R"(["a","b"])"}});
  check({R"({"type": "array", "prefixItems": [{"type": "string"}], "items": {"type": "boolean"}})",
         {R"(["a",true,false])"}, {R"(["a",1])", "[true]"}});
  check({R"({"type": "array", "prefixItems": [{"type": "null"}]})", {"[null]", R"([null,"any",2])"}, {"[1]"}});
  // The draft-04 spelling: items as a list, additionalItems for the rest.
  check({R"({"type": "array", "items": [{"type": "integer"}], "additionalItems": {"type": "string"}})",
         {"[1]", R"([1,"a","b"])"}, {"[1,2]", R"(["a"])"}});
  check({R"({"type": "array", "items": [{"type": "integer"}], "additionalItems": false})", {"[1]"}, {"[1,2]"}});
}

TEST(JsonSchemaTest, MinAndMaxItems) {
  check({R"({"type": "array", "items": {"type": "boolean"}, "minItems": 2, "maxItems": 3})",
         {"[true,false]", "[true,true,true]"}, {"[]", "[true]", "[true,true,true,true]"}});
  check({R"({"type": "array", "maxItems": 0})", {"[]"}, {"[1]"}});
  check({R"({"type": "array", "prefixItems": [{"type": "integer"}, {"type": "integer"}], "items": false, "minItems": 1})",
         {"[1]", "[1,2]"}, {"[]", "[1,2,3]"}});
}

TEST(JsonSchemaTest, StringLengthsCountCodePoints) {
  check({R"({"type": "string", "minLength": 2, "maxLength": 3})",
         {R"("ab")", R"("abc")", "\"é€\"", R"("\u00e9x")", R"("\ud83d\ude00x")", R"("\n\t")"},
         {R"("a")", R"("abcd")", "\"😀\"", R"("\ud83d\ude00")", R"("")"}});
  check({R"({"type": "string", "maxLength": 0})", {R"("")"}, {R"("a")"}});
}

TEST(JsonSchemaTest, EnumAndConst) {
  check({R"({"enum": ["red", "green", 1, null, {"a": [1]}, [true]]})",
         {R"("red")", R"("green")", "1", "null", R"({"a":[1]})", "[true]", " \"red\" "},
         {R"("blue")", R"("re")", "2", R"({ "a":[1]})", "[false]", "true"}});
  check({R"({"enum": [1, 12, 123]})", {"1", "12", "123"}, {"1234", "13", "2"}});
  check({R"({"enum": ["a", "ab"]})", {R"("a")", R"("ab")"}, {R"("abc")", R"("b")"}});
  check({R"({"type": "string", "enum": ["a", 1]})", {R"("a")"}, {"1"}});
  check({R"({"type": "integer", "enum": [1, 1.5, "2"]})", {"1"}, {"1.5", R"("2")"}});
  check({R"({"enum": ["x"], "nullable": true})", {R"("x")", "null"}, {R"("y")"}});
  check({R"({"const": "fixed"})", {R"("fixed")"}, {R"("fixe")", R"("fixedd")"}});
  check({R"({"const": {"k": [1, 2.5, "v"]}})", {R"({"k":[1,2.5,"v"]})"}, {R"({"k":[1]})"}});
  check({R"({"enum": ["a", "b"], "const": "b"})", {R"("b")"}, {R"("a")"}});
  check({R"({"enum": ["tab\there", "quote\"", "é"]})", {R"("tab\there")", R"("quote\"")", "\"é\""}, {R"("\u00e9")"}});
}

TEST(JsonSchemaTest, AnyOfAndOneOfAreChoices) {
  const std::string variants = R"([
      {"type": "object", "properties": {"kind": {"const": "a"}, "x": {"type": "integer"}}, "required": ["kind", "x"],
       "additionalProperties": false},
      {"type": "object", "properties": {"kind": {"const": "b"}, "y": {"type": "string"}}, "required": ["kind", "y"],
       "additionalProperties": false}])";
  for (const char* keyword : {"anyOf", "oneOf"})
    check({std::string("{\"") + keyword + "\": " + variants + "}", {R"({"kind":"a","x":1})", R"({"kind":"b","y":"s"})"},
           {R"({"kind":"a","y":"s"})", R"({"kind":"c"})", R"({"kind":"a"})"}});
  check({R"({"anyOf": [{"type": "string"}, {"type": "integer"}], "description": "either"})", {R"("s")", "5"}, {"null"}});
  check({R"({"anyOf": [{"type": "string"}], "nullable": true})", {R"("s")", "null"}, {"5"}});
  check({R"({"anyOf": [{"type": "integer"}, {"type": "number"}]})", {"5", "5.5"}, {"x"}});
  check({R"({"allOf": [{"type": "integer"}]})", {"5"}, {"5.5"}});
}

TEST(JsonSchemaTest, References) {
  check({R"({"$defs": {"pos": {"type": "integer"}}, "type": "object", "properties": {"n": {"$ref": "#/$defs/pos"}},
             "required": ["n"], "additionalProperties": false})",
         {R"({"n":3})"}, {R"({"n":"3"})", "{}"}});
  check({R"({"definitions": {"s": {"type": "string"}}, "type": "array", "items": {"$ref": "#/definitions/s"}})",
         {R"(["a","b"])"}, {"[1]"}});
  check({R"({"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"type": "boolean"}}})", {"true"}, {"1"}});
  check({R"({"$defs": {"x": {"type": "integer"}}, "properties": {"p": {"$ref": "#/$defs/x", "description": "a p"}},
             "additionalProperties": false})",
         {R"({"p":1})"}, {R"({"p":true})"}});
  check({R"({"$defs": {"a~b/c": {"type": "null"}}, "$ref": "#/$defs/a~0b~1c"})", {"null"}, {"1"}});
}

TEST(JsonSchemaTest, RecursiveReferences) {
  check({R"({"$defs": {"node": {"type": "object", "properties": {"value": {"type": "integer"},
             "children": {"type": "array", "items": {"$ref": "#/$defs/node"}}}, "required": ["value"],
             "additionalProperties": false}}, "$ref": "#/$defs/node"})",
         {R"({"value":1})", R"({"value":1,"children":[{"value":2},{"value":3,"children":[]}]})"},
         {R"({"value":1,"children":[{"children":[]}]})", R"({"value":1,"children":[1]})"}});
  check({R"({"type": "object", "properties": {"v": {"type": "integer"}, "next": {"$ref": "#"}}, "required": ["v"],
             "additionalProperties": false})",
         {R"({"v":1,"next":{"v":2,"next":{"v":3}}})"}, {R"({"v":1,"next":{}})"}});
}

TEST(JsonSchemaTest, RecursionNestsAtMostMaxDepth) {
  const grammar::Grammar g = compile_schema_text(R"({"type": "object", "properties": {"a": {"$ref": "#"}},
                                                   "additionalProperties": false})");
  // The document's frame and one per object: 63 objects fit in kMaxDepth = 64 frames.
  const auto nested = [](int objects) {
    std::string text;
    for (int i = 1; i < objects; ++i) text += R"({"a":)";
    text += "{}";
    for (int i = 1; i < objects; ++i) text += "}";
    return text;
  };
  EXPECT_TRUE(accepts(g, nested(63)));
  EXPECT_FALSE(accepts(g, nested(64)));
}

TEST(JsonSchemaTest, EmptySchemaAndTrueAreAnyValue) {
  for (const char* schema : {"{}", "true", R"({"description": "anything", "format": "date"})"})
    check({schema, {"1", R"("s")", "null", "[]", R"({"a":[{"b":false}]})", "-1.5e3"}, {"", "nul", "{", "[1,]"}});
}

TEST(JsonSchemaTest, AnnotationsAreIgnored) {
  check({R"({"type": "string", "format": "email", "title": "t", "description": "d", "default": "x", "examples": ["y"],
             "$schema": "https://json-schema.org/draft/2020-12/schema", "x-custom": 1})",
         {R"("not an email")"}, {"1"}});
}

TEST(JsonSchemaTest, JsonObjectModeIsAnyObject) {
  const grammar::Grammar g = grammar::json_object_grammar();
  for (const char* text : {"{}", R"({"a":1})", R"({"nested":{"list":[1,"two",null,true]}})"}) EXPECT_TRUE(accepts(g, text)) << text;
  for (const char* text : {"[]", "1", R"("s")", "null"}) EXPECT_FALSE(accepts(g, text)) << text;
}

TEST(JsonSchemaTest, ImpossibleAlternativesAndOptionalPropertiesAreDropped) {
  check({R"({"anyOf": [{"type": "array", "minItems": 3, "maxItems": 1}, {"type": "integer"}]})", {"1"}, {"[]"}});
  check({R"({"type": "object", "properties": {"a": false, "b": {"type": "integer"}}})", {R"({"b":1})"}, {R"({"a":1})"}});
  check({R"({"type": "array", "prefixItems": [{"type": "integer"}, false]})", {"[1]"}, {"[1,2]"}});
}

// The schema's JSON pointer and keyword, as the error reports them.
void expect_unsupported(const std::string& schema, const std::string& pointer, const std::string& keyword) {
  try {
    compile_schema_text(schema);
    ADD_FAILURE() << "compiled: " << schema;
  } catch (const UnsupportedSchema& e) {
    EXPECT_EQ(e.pointer(), pointer) << schema << "\n" << e.what();
    EXPECT_EQ(e.keyword(), keyword) << schema << "\n" << e.what();
    EXPECT_NE(std::string(e.what()).find("#" + pointer), std::string::npos) << e.what();
    if (!keyword.empty()) {
      EXPECT_NE(std::string(e.what()).find("'" + keyword + "'"), std::string::npos) << e.what();
    }
  }
}

TEST(JsonSchemaTest, UnsupportedKeywordsAreNamedWithTheirPointer) {
  expect_unsupported(R"({"type": "object", "properties": {"name": {"type": "string", "pattern": "^a"}}})",
                     "/properties/name", "pattern");
  expect_unsupported(R"({"not": {"type": "string"}})", "", "not");
  expect_unsupported(R"({"if": {}, "then": {}})", "", "if");
  expect_unsupported(R"({"type": "object", "patternProperties": {"^x": {}}})", "", "patternProperties");
  expect_unsupported(R"({"type": "object", "dependentRequired": {"a": ["b"]}})", "", "dependentRequired");
  expect_unsupported(R"({"type": "array", "items": {"type": "integer", "minimum": 0}})", "/items", "minimum");
  expect_unsupported(R"({"type": "array", "uniqueItems": true})", "", "uniqueItems");
  expect_unsupported(R"({"type": "number", "multipleOf": 2})", "", "multipleOf");
  expect_unsupported(R"({"allOf": [{"type": "integer"}, {"type": "number"}]})", "/allOf", "allOf");
  expect_unsupported(R"({"anyOf": [{"type": "integer"}], "type": "integer"})", "", "type");
  expect_unsupported(R"({"oneOf": [{"anyOf": [{"type": "string"}], "minLength": 2}]})", "/oneOf/0", "minLength");
  expect_unsupported(R"({"enum": ["a"], "maxLength": 1})", "", "maxLength");
  expect_unsupported(R"({"$ref": "#/$defs/x", "properties": {}, "$defs": {"x": {}}})", "", "properties");
  expect_unsupported(R"({"$ref": "other.json#/a"})", "/$ref", "$ref");
  expect_unsupported(R"({"properties": {"a": {"$ref": "#/$defs/missing"}}})", "/properties/a/$ref", "$ref");
  expect_unsupported(R"({"type": "strin"})", "", "type");
  expect_unsupported(R"({"type": "array", "minItems": -1})", "", "minItems");
  expect_unsupported(R"({"type": "string", "maxLength": 1.5})", "", "maxLength");
  expect_unsupported(R"({"anyOf": []})", "/anyOf", "anyOf");
  expect_unsupported(R"({"properties": {"a~b/c": 3}})", "/properties/a~0b~1c", "");
  expect_unsupported(R"({"type": "object", "required": "a"})", "", "required");
  expect_unsupported(R"({"$defs": {"d": {"type": "string", "pattern": "x"}}, "$ref": "#/$defs/d"})", "/$defs/d", "pattern");
}

TEST(JsonSchemaTest, SchemasThatAdmitNoValueAreRefused) {
  for (const char* schema : {"false", R"({"type": []})", R"({"type": "array", "minItems": 2, "maxItems": 1})",
                             R"({"type": "object", "properties": {"a": false}, "required": ["a"]})",
                             R"({"type": "object", "required": ["a"], "additionalProperties": false})",
                             R"({"enum": []})", R"({"type": "string", "enum": [1]})",
                             R"({"type": "string", "minLength": 3, "maxLength": 2})",
                             // Infinite: every node must contain another.
                             R"({"type": "object", "properties": {"a": {"$ref": "#"}}, "required": ["a"]})",
                             R"({"$ref": "#/$defs/a", "$defs": {"a": {"$ref": "#/$defs/a"}}})"})
    expect_unsupported(schema, "", "");
}

TEST(JsonSchemaTest, UnorderedJsonGivesPropertiesInKeyOrder) {
  const auto schema = nlohmann::json::parse(R"({"type": "object", "properties": {"b": {"type": "integer"},
                                               "a": {"type": "integer"}}, "required": ["a", "b"]})");
  const grammar::Grammar g = grammar::compile_json_schema(schema);
  EXPECT_TRUE(accepts(g, R"({"a":1,"b":2})"));
  EXPECT_FALSE(accepts(g, R"({"b":2,"a":1})"));
}

}  // namespace
}  // namespace gptoss::test
