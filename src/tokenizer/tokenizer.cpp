#include "gptoss/tokenizer.h"

#include <algorithm>

#include "gptoss/error.h"
#include "tokenizer/added_tokens.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenizer.h"
#include "tokenizer/tokenizer_json.h"

namespace gptoss {

namespace {

// Ids index a table; this bound keeps a corrupt file from asking for gigabytes.
constexpr int32_t kMaxId = (1 << 24) - 1;

std::filesystem::path tokenizer_file(const std::filesystem::path& path) {
  if (!std::filesystem::is_directory(path)) return path;
  const auto file = path / "tokenizer.json";
  if (!std::filesystem::exists(file)) throw Error(path.string() + ": no tokenizer.json in this directory");
  return file;
}

}  // namespace

struct Tokenizer::Impl {
  Impl(TokenizerJson json, const std::string& origin)
      : bpe(std::move(json.vocab), json.merges, json.ignore_merges, origin),
        pretokenizer(json.split_pattern, origin),
        added(std::move(json.added_tokens)) {
    int32_t max_id = -1;
    for (const auto& [bytes, id] : bpe.tokens()) max_id = std::max(max_id, id);
    for (const auto& token : added.tokens()) max_id = std::max(max_id, token.id);
    if (max_id > kMaxId) throw Error(origin + ": token id " + std::to_string(max_id) + " is beyond " + std::to_string(kMaxId));
    bytes_of_id.resize(static_cast<size_t>(max_id + 1));
    special.resize(static_cast<size_t>(max_id + 1));
    for (const auto& [bytes, id] : bpe.tokens()) {
      if (!bytes_of_id[static_cast<size_t>(id)].empty())
        throw Error(origin + ": model.vocab gives id " + std::to_string(id) + " to two tokens");
      bytes_of_id[static_cast<size_t>(id)] = bytes;
    }
    // An added token may repeat a vocabulary entry; decoding then gives its content, as in
    // Hugging Face.
    for (const auto& token : added.tokens()) {
      bytes_of_id[static_cast<size_t>(token.id)] = token.content;
      special[static_cast<size_t>(token.id)] = token.special;
    }
  }

  void encode_ordinary(std::string_view text, std::vector<int32_t>& out, std::vector<std::string_view>& pieces,
                       BpeModel::Scratch& scratch) const {
    pretokenizer.split(text, pieces);
    for (const auto piece : pieces) bpe.encode(piece, out, scratch);
  }

  std::string_view bytes(int32_t id) const {
    if (id < 0 || static_cast<size_t>(id) >= bytes_of_id.size() || bytes_of_id[static_cast<size_t>(id)].empty())
      throw Error("token id " + std::to_string(id) + " is not in the vocabulary (ids 0.." +
                  std::to_string(bytes_of_id.size() - 1) + ")");
    return bytes_of_id[static_cast<size_t>(id)];
  }

  BpeModel bpe;
  PreTokenizer pretokenizer;
  AddedTokenMatcher added;
  std::vector<std::string_view> bytes_of_id;  // empty: no such token
  std::vector<bool> special;
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::filesystem::path& path) {
  const auto file = tokenizer_file(path);
  return Tokenizer(std::make_unique<Impl>(read_tokenizer_json(file), file.string()));
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool allow_special) const {
  std::vector<int32_t> out;
  out.reserve(text.size() / 4 + 1);
  std::vector<std::string_view> pieces;
  BpeModel::Scratch scratch;
  size_t from = 0;
  while (true) {
    const auto match = impl_->added.find(text, from, allow_special);
    const size_t end = match ? match->position : text.size();
    impl_->encode_ordinary(text.substr(from, end - from), out, pieces, scratch);
    if (!match) break;
    out.push_back(match->id);
    from = match->position + match->length;
  }
  return out;
}

std::string Tokenizer::decode(std::span<const int32_t> ids) const {
  std::string text;
  for (const int32_t id : ids) text += impl_->bytes(id);
  return text;
}

std::string_view Tokenizer::token_bytes(int32_t id) const { return impl_->bytes(id); }

bool Tokenizer::is_special(int32_t id) const {
  return id >= 0 && static_cast<size_t>(id) < impl_->special.size() && impl_->special[static_cast<size_t>(id)];
}

std::optional<int32_t> Tokenizer::special_token(std::string_view text) const {
  for (const auto& token : impl_->added.tokens())
    if (token.content == text) return token.id;
  return std::nullopt;
}

int32_t Tokenizer::vocab_size() const { return static_cast<int32_t>(impl_->bytes_of_id.size()); }

}  // namespace gptoss
