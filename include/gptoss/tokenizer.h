// The gpt-oss tokenizer (o200k_harmony): byte-level BPE loaded from a Hugging Face
// tokenizer.json, encoding and decoding exactly as Hugging Face `tokenizers` does
// (gpt-oss-model.md §5), and a decoder for token streams.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace gptoss {

class Tokenizer {
 public:
  // `path` is a tokenizer.json or a model directory holding one. Throws gptoss::Error naming the
  // file and what is wrong or unsupported in it.
  static Tokenizer load(const std::filesystem::path& path);
  Tokenizer(Tokenizer&&) noexcept;
  Tokenizer& operator=(Tokenizer&&) noexcept;
  ~Tokenizer();

  // Text → token ids; nothing is added. With `allow_special`, special-token strings in the text
  // ("<|start|>") become their ids, as Hugging Face's encode does; without, they are plain text
  // (tiktoken's encode_ordinary: for user and tool content). Any bytes are accepted: a run of
  // invalid UTF-8 becomes a piece of its own, encoded through its bytes' tokens, so that
  // decode(encode(x)) == x for every x. Thread-safe.
  std::vector<int32_t> encode(std::string_view text, bool allow_special) const;

  // Token ids → the bytes they stand for (not necessarily valid UTF-8: a character may be split
  // across tokens; StreamingDecoder deals with that). Special tokens give their text. Throws
  // gptoss::Error naming an id the tokenizer does not define.
  std::string decode(std::span<const int32_t> ids) const;

  // The bytes of one token (a special token's text). Throws for an undefined id.
  std::string_view token_bytes(int32_t id) const;
  // Whether `id` is an added token marked special (the harmony control tokens).
  bool is_special(int32_t id) const;
  // The id of an added token by its text, e.g. "<|return|>".
  std::optional<int32_t> special_token(std::string_view text) const;
  // One past the largest id (200019 for gpt-oss; the model's 201088 rows pad beyond it).
  int32_t vocab_size() const;

 private:
  struct Impl;
  explicit Tokenizer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Turns token ids, one at a time, into text that never ends inside a UTF-8 character: the bytes of
// a character split across tokens are held until it is complete. Bytes that can never form a
// character come out as U+FFFD, so the text is always valid UTF-8, and all of it (flush included)
// equals Hugging Face's decode of the whole sequence.
class StreamingDecoder {
 public:
  explicit StreamingDecoder(const Tokenizer& tokenizer) : tokenizer_(&tokenizer) {}

  // The text that `id` completes (possibly empty). Throws gptoss::Error for an undefined id.
  std::string feed(int32_t id);
  // The bytes still held, as U+FFFD (the stream ended inside a character); then starts afresh.
  std::string flush();

 private:
  const Tokenizer* tokenizer_;
  std::string pending_;
};

}  // namespace gptoss
