// Supported tokenizer.json (what `tokenizers` writes for gpt-oss):
//   normalizer     null
//   pre_tokenizer  Sequence[Split{Regex, Isolated, invert false}, ByteLevel{add_prefix_space false,
//                  use_regex false}]
//   model          BPE without dropout or subword affixes; ignore_merges optional; merges as
//                  "a b" strings or [a, b] pairs
//   decoder        ByteLevel
//   added_tokens   lstrip, rstrip, single_word and normalized all false
// post_processor, truncation and padding only matter for add_special_tokens, offsets and
// batches, none of which this engine uses.
#include "tokenizer/tokenizer_json.h"

#include <nlohmann/json.hpp>

#include "gptoss/error.h"
#include "io/json_limits.h"
#include "io/mapped_file.h"
#include "io/text_file.h"
#include "tokenizer/byte_level.h"

namespace gptoss {

namespace {

using nlohmann::json;

// Parses with SAX events: model.vocab (~200k entries) and model.merges (~450k) go straight into
// vectors, everything else into a small json document. A json DOM of the whole 28 MB file would
// double the load time.
class Reader final : public json::json_sax_t {
 public:
  json document;  // tokenizer.json without model.vocab and model.merges
  TokenizerJson tokens;
  bool saw_vocab = false;
  std::string error;

  bool null() override { return scalar(nullptr); }
  bool boolean(bool value) override { return scalar(value); }
  bool number_integer(number_integer_t value) override { return scalar(value); }
  bool number_unsigned(number_unsigned_t value) override {
    return mode() == Mode::vocab ? vocab_entry(value) : scalar(value);
  }
  bool number_float(number_float_t value, const string_t&) override { return scalar(value); }
  bool binary(binary_t&) override { return fail("holds binary data"); }

  bool string(string_t& value) override {
    switch (mode()) {
      case Mode::merges: return merge_string(value);
      case Mode::merge_pair: return merge_part(value);
      default: return scalar(std::move(value));
    }
  }

  bool key(string_t& key) override {
    key_ = std::move(key);
    return true;
  }

  bool start_object(std::size_t) override {
    if (stack_.empty()) {
      document = json::object();
      stack_.push_back({&document, Mode::dom});
      return true;
    }
    if (mode() == Mode::model && key_ == "vocab") {
      saw_vocab = true;
      stack_.push_back({nullptr, Mode::vocab});
      return true;
    }
    if (mode() != Mode::dom && mode() != Mode::model) return fail("holds an unexpected object");
    const bool is_model = stack_.size() == 1 && key_ == "model";
    stack_.push_back({insert(json::object()), is_model ? Mode::model : Mode::dom});
    return true;
  }

  bool start_array(std::size_t) override {
    if (stack_.empty()) return fail("is not a JSON object");
    switch (mode()) {
      case Mode::model:
        if (key_ == "merges") {
          stack_.push_back({nullptr, Mode::merges});
          return true;
        }
        [[fallthrough]];
      case Mode::dom:
        stack_.push_back({insert(json::array()), Mode::dom});
        return true;
      case Mode::merges:
        pair_.clear();
        stack_.push_back({nullptr, Mode::merge_pair});
        return true;
      default:
        return fail("holds an unexpected array");
    }
  }

  bool end_object() override {
    stack_.pop_back();
    return true;
  }

  bool end_array() override {
    if (mode() == Mode::merge_pair) {
      if (pair_.size() != 2) return fail("is not a pair of tokens");
      if (!add_merge(pair_[0], pair_[1])) return false;
    }
    stack_.pop_back();
    return true;
  }

  bool parse_error(std::size_t, const std::string&, const json::exception& e) override {
    error = text_excerpt(e.what());
    return false;
  }

 private:
  enum class Mode { dom, model, vocab, merges, merge_pair };
  struct Frame {
    json* value;  // the container being filled (dom and model frames)
    Mode mode;
  };

  Mode mode() const { return stack_.empty() ? Mode::dom : stack_.back().mode; }

  bool fail(const std::string& what) {
    if (stack_.empty()) {
      error = "the document " + what;
      return false;
    }
    switch (mode()) {
      case Mode::vocab: error = "model.vocab entry '" + text_excerpt(key_) + "' " + what; break;
      case Mode::merges:
      case Mode::merge_pair: error = "model.merges entry " + std::to_string(tokens.merges.size()) + " " + what; break;
      default: error = "'" + text_excerpt(key_) + "' " + what; break;
    }
    return false;
  }

  json* insert(json value) {
    json& parent = *stack_.back().value;
    if (parent.is_object()) return &(parent[key_] = std::move(value));
    parent.push_back(std::move(value));
    return &parent.back();
  }

  template <typename T>
  bool scalar(T&& value) {
    if (stack_.empty()) return fail("is not a JSON object");
    switch (mode()) {
      case Mode::dom:
      case Mode::model: insert(json(std::forward<T>(value))); return true;
      case Mode::vocab: return fail("must have a non-negative integer id");
      default: return fail("must be a string");
    }
  }

  bool vocab_entry(number_unsigned_t id) {
    if (id > INT32_MAX) return fail("has an id beyond 2^31");
    auto bytes = byte_level_to_bytes(key_);
    if (!bytes) return fail("is not a byte-level string");
    tokens.vocab.emplace_back(std::move(*bytes), static_cast<int32_t>(id));
    return true;
  }

  // The older format: "a b" (byte-level strings never contain a space).
  bool merge_string(const std::string& merge) {
    const size_t space = merge.find(' ');
    if (space == std::string::npos || merge.find(' ', space + 1) != std::string::npos)
      return fail("('" + text_excerpt(merge) + "') is not two tokens separated by one space");
    return add_merge(merge.substr(0, space), merge.substr(space + 1));
  }

  bool merge_part(std::string& part) {
    if (pair_.size() == 2) return fail("is not a pair of tokens");
    pair_.push_back(std::move(part));
    return true;
  }

  bool add_merge(const std::string& left, const std::string& right) {
    auto left_bytes = byte_level_to_bytes(left);
    auto right_bytes = byte_level_to_bytes(right);
    if (!left_bytes || !right_bytes) return fail("('" + text_excerpt(left + " " + right) + "') is not byte-level text");
    tokens.merges.emplace_back(std::move(*left_bytes), std::move(*right_bytes));
    return true;
  }

  std::vector<Frame> stack_;
  std::string key_;
  std::vector<std::string> pair_;
};

// Checks of the small part of the document, each failure naming the key.
class Checker {
 public:
  explicit Checker(std::string origin) : origin_(std::move(origin)) {}

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw Error(origin_ + ": key '" + key + "' " + what);
  }

  const json& object(const json& parent, const std::string& name, const std::string& key) const {
    const auto it = parent.find(name);
    if (it == parent.end() || !it->is_object()) fail(key, "must be an object");
    return *it;
  }

  bool absent_or_null(const json& parent, const std::string& name) const {
    const auto it = parent.find(name);
    return it == parent.end() || it->is_null();
  }

  std::string string(const json& parent, const std::string& name, const std::string& key) const {
    const auto it = parent.find(name);
    if (it == parent.end() || !it->is_string()) fail(key, "must be a string");
    return it->get<std::string>();
  }

  bool boolean(const json& parent, const std::string& name, const std::string& key, bool fallback) const {
    const auto it = parent.find(name);
    if (it == parent.end() || it->is_null()) return fallback;
    if (!it->is_boolean()) fail(key, "must be true or false, got " + json_excerpt(*it));
    return it->get<bool>();
  }

  void expect_type(const json& obj, const std::string& type, const std::string& key) const {
    const std::string got = string(obj, "type", key + ".type");
    if (got != type) fail(key + ".type", "is '" + text_excerpt(got) + "'; only '" + type + "' is supported");
  }

  void expect_bool(const json& obj, const std::string& name, bool expected, const std::string& key,
                   bool fallback) const {
    if (boolean(obj, name, key + "." + name, fallback) != expected)
      fail(key + "." + name, std::string("must be ") + (expected ? "true" : "false") + " (the only supported value)");
  }

 private:
  std::string origin_;
};

std::string split_pattern(const json& doc, const Checker& check) {
  const json& pre = check.object(doc, "pre_tokenizer", "pre_tokenizer");
  check.expect_type(pre, "Sequence", "pre_tokenizer");
  const auto steps = pre.find("pretokenizers");
  if (steps == pre.end() || !steps->is_array() || steps->size() != 2 || !(*steps)[0].is_object() ||
      !(*steps)[1].is_object())
    check.fail("pre_tokenizer.pretokenizers", "must be [Split, ByteLevel]");
  const json& split = (*steps)[0];
  check.expect_type(split, "Split", "pre_tokenizer.pretokenizers[0]");
  const std::string behavior = check.string(split, "behavior", "pre_tokenizer.pretokenizers[0].behavior");
  if (behavior != "Isolated")
    check.fail("pre_tokenizer.pretokenizers[0].behavior", "is '" + text_excerpt(behavior) + "'; only 'Isolated' is supported");
  check.expect_bool(split, "invert", false, "pre_tokenizer.pretokenizers[0]", false);
  const json& pattern = check.object(split, "pattern", "pre_tokenizer.pretokenizers[0].pattern");
  const std::string regex = check.string(pattern, "Regex", "pre_tokenizer.pretokenizers[0].pattern.Regex");
  const json& byte_level = (*steps)[1];
  check.expect_type(byte_level, "ByteLevel", "pre_tokenizer.pretokenizers[1]");
  check.expect_bool(byte_level, "add_prefix_space", false, "pre_tokenizer.pretokenizers[1]", false);
  check.expect_bool(byte_level, "use_regex", false, "pre_tokenizer.pretokenizers[1]", true);
  return regex;
}

bool model_ignore_merges(const json& doc, const Checker& check) {
  const json& model = check.object(doc, "model", "model");
  check.expect_type(model, "BPE", "model");
  if (!check.absent_or_null(model, "dropout")) check.fail("model.dropout", "must be null (no BPE dropout)");
  for (const char* affix : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    const auto it = model.find(affix);
    if (it != model.end() && !it->is_null() && *it != "") check.fail(std::string("model.") + affix, "must be null");
  }
  return check.boolean(model, "ignore_merges", "model.ignore_merges", false);
}

std::vector<AddedToken> added_tokens(const json& doc, const Checker& check) {
  std::vector<AddedToken> out;
  const auto list = doc.find("added_tokens");
  if (list == doc.end() || list->is_null()) return out;
  if (!list->is_array()) check.fail("added_tokens", "must be an array");
  for (size_t i = 0; i < list->size(); ++i) {
    const json& entry = (*list)[i];
    const std::string key = "added_tokens[" + std::to_string(i) + "]";
    if (!entry.is_object()) check.fail(key, "must be an object");
    AddedToken token;
    token.content = check.string(entry, "content", key + ".content");
    if (token.content.empty()) check.fail(key + ".content", "is empty");
    const auto id = entry.find("id");
    if (id == entry.end() || !id->is_number_unsigned() || id->get<uint64_t>() > INT32_MAX)
      check.fail(key + ".id", "must be a non-negative integer");
    token.id = static_cast<int32_t>(id->get<uint64_t>());
    token.special = check.boolean(entry, "special", key + ".special", false);
    for (const char* flag : {"lstrip", "rstrip", "single_word", "normalized"})
      check.expect_bool(entry, flag, false, key, false);
    out.push_back(std::move(token));
  }
  return out;
}

}  // namespace

TokenizerJson read_tokenizer_json(const std::filesystem::path& file) {
  check_regular_file(file, kMaxTokenizerJsonBytes, "tokenizer");
  const MappedFile mapped(file);
  const auto* text = reinterpret_cast<const char*>(mapped.data());
  // The SAX parser itself does not recurse, but the small document it builds is copied and
  // compared, which does.
  check_json_depth({text, mapped.size()}, file.string());
  Reader reader;
  if (!json::sax_parse(text, text + mapped.size(), &reader)) throw Error(file.string() + ": " + reader.error);
  if (!reader.document.is_object()) throw Error(file.string() + ": not a JSON object");
  const Checker check(file.string());
  if (!reader.saw_vocab) check.fail("model.vocab", "must be an object");
  if (!check.absent_or_null(reader.document, "normalizer")) check.fail("normalizer", "must be null (normalizers are not supported)");
  const json& decoder = check.object(reader.document, "decoder", "decoder");
  check.expect_type(decoder, "ByteLevel", "decoder");

  TokenizerJson out = std::move(reader.tokens);
  out.split_pattern = split_pattern(reader.document, check);
  out.ignore_merges = model_ignore_merges(reader.document, check);
  out.added_tokens = added_tokens(reader.document, check);
  return out;
}

}  // namespace gptoss
