#include "server/harmony_constraint.h"

#include "gptoss/error.h"
#include "grammar/json_schema.h"
#include "grammar/token_mask.h"
#include "server/api_error.h"

namespace gptoss::server {

namespace {

int32_t special(const Tokenizer& tokenizer, std::string_view text) {
  const auto id = tokenizer.special_token(text);
  if (!id) throw Error("the tokenizer has no " + std::string(text) + " token; structured outputs need harmony's");
  return *id;
}

void allow(std::span<uint32_t> bits, int32_t id) {
  bits[static_cast<uint32_t>(id) / 32] |= 1u << (static_cast<uint32_t>(id) % 32);
}

// What a message's content may be, once its header is written.
struct ContentRule {
  std::shared_ptr<const grammar::Grammar> json;  // null: free text
  int32_t terminator;                            // the token that ends the message
};

// A header the model may write, as the tokens harmony's rendering gives it (the tokenization the
// model was trained on: a header spelled in odd pieces is off its distribution, and longer than
// the output assembler accepts as a header), up to and including <|message|>.
struct HeaderOption {
  std::vector<int32_t> tokens;
  ContentRule content;
};

class HarmonyConstraint final : public TokenConstraint {
 public:
  HarmonyConstraint(std::shared_ptr<const ConstraintVocabulary> vocabulary, std::vector<HeaderOption> first,
                    std::vector<HeaderOption> later)
      : v_(std::move(vocabulary)), options_(std::move(first)), later_(std::move(later)) {}

  void allowed_tokens(std::span<uint32_t> allowed) override {
    if (json_) {
      json_->allowed_tokens(allowed);
      if (json_->complete()) allow(allowed, rule_.terminator);
      return;
    }
    if (in_content_) {  // free text until the message's end
      const auto ordinary = v_->ordinary_bits();
      for (size_t i = 0; i < allowed.size() && i < ordinary.size(); ++i) allowed[i] |= ordinary[i];
      allow(allowed, rule_.terminator);
      return;
    }
    for (const HeaderOption& o : current())
      if (continues(o.tokens)) allow(allowed, o.tokens[header_.size()]);
  }

  void accept(int32_t token) override {
    if (json_) {
      if (token == rule_.terminator) return end_message();
      json_->accept(token);
      return;
    }
    if (in_content_) {
      if (token == rule_.terminator) end_message();
      return;
    }
    header_.push_back(token);
    for (const HeaderOption& o : current())
      if (o.tokens == header_) {
        rule_ = o.content;
        in_content_ = true;
        if (rule_.json) json_ = std::make_unique<grammar::JsonConstraint>(rule_.json, v_->grammar());
        return;
      }
  }

 private:
  const std::vector<HeaderOption>& current() const { return first_message_ ? options_ : later_; }
  bool continues(const std::vector<int32_t>& tokens) const {
    return tokens.size() > header_.size() && std::equal(header_.begin(), header_.end(), tokens.begin());
  }
  // <|end|> leads to another message; <|return|> and <|call|> end the turn (the scheduler stops).
  void end_message() {
    json_.reset();
    in_content_ = false;
    header_.clear();
    first_message_ = false;
  }

  std::shared_ptr<const ConstraintVocabulary> v_;
  std::vector<HeaderOption> options_, later_;
  bool first_message_ = true;
  std::vector<int32_t> header_;  // the current header's tokens so far
  bool in_content_ = false;
  ContentRule rule_{};
  std::unique_ptr<grammar::JsonConstraint> json_;
};

// "<|channel|>analysis<|message|>", "<|channel|>commentary to=functions.f <|constrain|>json<|message|>" …
std::string header(std::string_view channel_and_recipient, bool constrain_json) {
  std::string text = "<|channel|>" + std::string(channel_and_recipient);
  if (constrain_json) text += "<|constrain|>json";
  return text + "<|message|>";
}

std::shared_ptr<const grammar::Grammar> tool_grammar(const harmony::FunctionTool& tool) {
  if (tool.parameters.empty()) return std::make_shared<const grammar::Grammar>(grammar::json_object_grammar());
  try {
    return std::make_shared<const grammar::Grammar>(
        grammar::compile_json_schema(nlohmann::ordered_json::parse(tool.parameters)));
  } catch (const std::exception&) {
    return std::make_shared<const grammar::Grammar>(grammar::json_object_grammar());
  }
}

std::shared_ptr<const grammar::Grammar> answer_grammar(const StructuredOutput& format) {
  if (format.kind == StructuredOutput::Kind::text) return nullptr;
  if (format.kind == StructuredOutput::Kind::json_object)
    return std::make_shared<const grammar::Grammar>(grammar::json_object_grammar());
  try {
    return std::make_shared<const grammar::Grammar>(grammar::compile_json_schema(format.schema));
  } catch (const grammar::UnsupportedSchema& e) {
    // The param names the keyword: the schema's JSON pointer in the dotted form of the other params.
    std::string param = "response_format.json_schema.schema";
    for (const char c : e.pointer()) param.push_back(c == '/' ? '.' : c);
    if (!e.keyword().empty()) param += "." + e.keyword();
    throw ApiError(422, std::string("response_format: ") + e.what(), param, "unsupported_schema");
  }
}

const std::vector<harmony::FunctionTool>* declared_tools(const harmony::Conversation& conversation) {
  for (const auto& m : conversation)
    if (const auto* developer = std::get_if<harmony::DeveloperContent>(&m.content)) return &developer->tools;
  return nullptr;
}

}  // namespace

ConstraintVocabulary::ConstraintVocabulary(const Tokenizer& tokenizer)
    : end(special(tokenizer, "<|end|>")),
      return_(special(tokenizer, "<|return|>")),
      call(special(tokenizer, "<|call|>")),
      tokenizer_(&tokenizer),
      grammar_(tokenizer),
      size_(tokenizer.vocab_size()) {
  // Headers are encoded from text: their control tokens must be the tokenizer's own.
  for (const char* header_token : {"<|start|>", "<|channel|>", "<|message|>", "<|constrain|>"})
    special(tokenizer, header_token);
  ordinary_bits_.assign((static_cast<size_t>(size_) + 31) / 32, 0);
  for (int32_t id = 0; id < size_; ++id)
    if (!grammar_.bytes(id).empty()) allow(ordinary_bits_, id);  // empty: special, or undefined
}

std::vector<int32_t> ConstraintVocabulary::header_tokens(std::string_view header) const {
  return tokenizer_->encode(header, true);
}

std::vector<std::shared_ptr<TokenConstraint>> harmony_constraints(
    const std::shared_ptr<const ConstraintVocabulary>& vocabulary, const ApiRequest& request) {
  static const std::vector<harmony::FunctionTool> no_tools;
  const auto* tools = declared_tools(request.conversation);
  if (!tools) tools = &no_tools;
  const ToolChoice::Kind choice = request.tool_choice.kind;
  const auto answer = answer_grammar(request.response_format);
  const bool tool_rule = choice != ToolChoice::Kind::automatic && !tools->empty();
  if (!answer && !tool_rule) return {};

  // The headers allowed (as text), each with what its content may be.
  const ConstraintVocabulary& v = *vocabulary;
  std::vector<std::pair<std::string, ContentRule>> headers;
  headers.push_back({header("analysis", false), {nullptr, v.end}});
  const bool must_call = choice == ToolChoice::Kind::required || choice == ToolChoice::Kind::named;
  if (!must_call) headers.push_back({header("final", false), {answer, v.return_}});
  if (choice == ToolChoice::Kind::automatic && !tools->empty())
    headers.push_back({header("commentary", false), {nullptr, v.end}});  // a preamble
  if (choice != ToolChoice::Kind::none)
    for (const auto& tool : *tools)
      if (choice != ToolChoice::Kind::named || tool.name == request.tool_choice.name)
        headers.push_back({header("commentary to=functions." + tool.name + " ", true), {tool_grammar(tool), v.call}});
  // Messages after the first begin with <|start|>assistant.
  std::vector<HeaderOption> first, later;
  for (const auto& [text, rule] : headers) {
    first.push_back({v.header_tokens(text), rule});
    later.push_back({v.header_tokens("<|start|>assistant" + text), rule});
  }
  std::vector<std::shared_ptr<TokenConstraint>> constraints;
  for (int i = 0; i < request.n; ++i) constraints.push_back(std::make_shared<HarmonyConstraint>(vocabulary, first, later));
  return constraints;
}

}  // namespace gptoss::server
