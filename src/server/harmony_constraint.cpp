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

// A header as a sequence of symbols: bytes (0–255) and control tokens (their id + 256), so that
// ordinary text can never spell a control token.
using Symbols = std::vector<int32_t>;
constexpr int32_t kControl = 256;

void append_text(Symbols& symbols, std::string_view text) {
  for (const char c : text) symbols.push_back(static_cast<unsigned char>(c));
}

// What a message's content may be, once its header is written.
struct ContentRule {
  std::shared_ptr<const grammar::Grammar> json;  // null: free text
  int32_t terminator;                            // the token that ends the message
};

struct HeaderOption {
  Symbols symbols;  // up to and including <|message|>
  ContentRule content;
};

class HarmonyConstraint final : public TokenConstraint {
 public:
  HarmonyConstraint(std::shared_ptr<const ConstraintVocabulary> vocabulary, std::vector<HeaderOption> first)
      : v_(std::move(vocabulary)), options_(std::move(first)) {
    // Messages after the first begin with <|start|>assistant.
    later_ = options_;
    for (auto& o : later_) {
      Symbols prefix = {v_->start + kControl};
      append_text(prefix, "assistant");
      o.symbols.insert(o.symbols.begin(), prefix.begin(), prefix.end());
    }
  }

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
    for (const HeaderOption& o : current()) {
      if (!starts_with(o.symbols)) continue;
      // The rest of this header: its next control token, or any ordinary token spelling a
      // prefix of the text up to it.
      const size_t from = header_.size();
      if (o.symbols[from] >= kControl) {
        allow(allowed, o.symbols[from] - kControl);
        continue;
      }
      std::string text;
      for (size_t i = from; i < o.symbols.size() && o.symbols[i] < kControl; ++i) {
        text.push_back(static_cast<char>(o.symbols[i]));
        if (const auto id = v_->token(text)) allow(allowed, *id);
      }
    }
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
    if (token >= v_->size()) return;
    if (token == v_->start || token == v_->channel || token == v_->constrain || token == v_->message)
      header_.push_back(token + kControl);
    else
      append_text(header_, v_->grammar().bytes(token));
    for (const HeaderOption& o : current())
      if (o.symbols == header_) {
        rule_ = o.content;
        in_content_ = true;
        if (rule_.json) json_ = std::make_unique<grammar::JsonConstraint>(rule_.json, v_->grammar());
        return;
      }
  }

 private:
  const std::vector<HeaderOption>& current() const { return first_message_ ? options_ : later_; }
  bool starts_with(const Symbols& symbols) const {
    return symbols.size() > header_.size() && std::equal(header_.begin(), header_.end(), symbols.begin());
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
  Symbols header_;
  bool in_content_ = false;
  ContentRule rule_{};
  std::unique_ptr<grammar::JsonConstraint> json_;
};

Symbols header(const ConstraintVocabulary& v, std::string_view channel_and_recipient, bool constrain_json) {
  Symbols s = {v.channel + kControl};
  append_text(s, channel_and_recipient);
  if (constrain_json) {
    s.push_back(v.constrain + kControl);
    append_text(s, "json");
  }
  s.push_back(v.message + kControl);
  return s;
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
    : start(special(tokenizer, "<|start|>")),
      end(special(tokenizer, "<|end|>")),
      message(special(tokenizer, "<|message|>")),
      channel(special(tokenizer, "<|channel|>")),
      constrain(special(tokenizer, "<|constrain|>")),
      return_(special(tokenizer, "<|return|>")),
      call(special(tokenizer, "<|call|>")),
      grammar_(tokenizer),
      size_(tokenizer.vocab_size()) {
  ordinary_bits_.assign((static_cast<size_t>(size_) + 31) / 32, 0);
  for (int32_t id = 0; id < size_; ++id) {
    const std::string_view bytes = grammar_.bytes(id);
    if (bytes.empty()) continue;  // special, or undefined
    by_bytes_.emplace(std::string(bytes), id);
    allow(ordinary_bits_, id);
  }
}

std::optional<int32_t> ConstraintVocabulary::token(std::string_view bytes) const {
  const auto it = by_bytes_.find(std::string(bytes));
  if (it == by_bytes_.end()) return std::nullopt;
  return it->second;
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

  const ConstraintVocabulary& v = *vocabulary;
  std::vector<HeaderOption> options;
  options.push_back({header(v, "analysis", false), {nullptr, v.end}});
  const bool must_call = choice == ToolChoice::Kind::required || choice == ToolChoice::Kind::named;
  if (!must_call) options.push_back({header(v, "final", false), {answer, v.return_}});
  if (choice == ToolChoice::Kind::automatic && !tools->empty())
    options.push_back({header(v, "commentary", false), {nullptr, v.end}});  // a preamble
  if (choice != ToolChoice::Kind::none)
    for (const auto& tool : *tools)
      if (choice != ToolChoice::Kind::named || tool.name == request.tool_choice.name)
        options.push_back({header(v, "commentary to=functions." + tool.name + " ", true), {tool_grammar(tool), v.call}});
  std::vector<std::shared_ptr<TokenConstraint>> constraints;
  for (int i = 0; i < request.n; ++i) constraints.push_back(std::make_shared<HarmonyConstraint>(vocabulary, options));
  return constraints;
}

}  // namespace gptoss::server
