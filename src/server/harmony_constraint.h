// Constrained answers in harmony: tool_choice (none / required / a named function) and
// response_format (json_object / json_schema) enforced token by token. The headers the model may
// write are limited to a canonical set (`<|channel|>analysis`, `<|channel|>final`,
// `<|channel|>commentary to=functions.NAME <|constrain|>json` …, after `<|start|>assistant` for
// later messages); the final answer follows the response format's grammar and a tool call's
// arguments its parameters' schema, the message ending (`<|return|>`, `<|call|>`) allowed only
// once the JSON is complete. Reasoning stays free.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gptoss/token_constraint.h"
#include "gptoss/tokenizer.h"
#include "grammar/vocabulary.h"
#include "server/api_request.h"

namespace gptoss::server {

// What constraints need to know of the tokenizer, built once per server (the vocabulary's trie
// for grammars, harmony's control tokens, headers' tokens) and shared read-only by every request.
class ConstraintVocabulary {
 public:
  explicit ConstraintVocabulary(const Tokenizer& tokenizer);

  const grammar::Vocabulary& grammar() const { return grammar_; }
  // A header's tokens as harmony renders it ("<|channel|>final<|message|>").
  std::vector<int32_t> header_tokens(std::string_view header) const;
  std::span<const uint32_t> ordinary_bits() const { return ordinary_bits_; }  // every non-special token
  int32_t size() const { return size_; }
  int32_t end, return_, call;

 private:
  const Tokenizer* tokenizer_;  // outlives the vocabulary (the server's)
  grammar::Vocabulary grammar_;
  std::vector<uint32_t> ordinary_bits_;
  int32_t size_;
};

// The constraints for the request's choices (one each, as they keep state); empty when the
// request needs none (tool_choice auto and a text answer). Throws ApiError 422 naming the
// keyword of a response_format schema the grammar cannot enforce; a tool whose parameters it
// cannot enforce gets any JSON object instead (OpenAI's non-strict function calling).
std::vector<std::shared_ptr<TokenConstraint>> harmony_constraints(
    const std::shared_ptr<const ConstraintVocabulary>& vocabulary, const ApiRequest& request);

}  // namespace gptoss::server
