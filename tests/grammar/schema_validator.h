// A plain JSON Schema validator for the keywords the grammar supports, written from the
// specification independently of the grammar compiler: the random-walk tests check that what
// the token mask lets through is valid by this judge. `oneOf` means exactly one, as in the spec
// (the grammar treats it as anyOf; the tests' schemas keep their alternatives disjoint).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace gptoss::test {

// Whether `instance` is valid against `schema` (whose "#/..." references resolve in itself);
// when not, `why` says where.
bool validate_against_schema(const nlohmann::ordered_json& schema, const nlohmann::json& instance, std::string* why);

}  // namespace gptoss::test
