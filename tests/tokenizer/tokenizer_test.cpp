// The gpt-oss tokenizer against Hugging Face `tokenizers`: the golden encodings, the reference
// prompts, round trips over WikiText-2 and random text, invalid UTF-8, and the decoders.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "gptoss/error.h"
#include "tokenizer/tokenizer_fixture.h"
#include "tokenizer/utf8.h"

namespace gptoss {
namespace {

using test::gpt_oss_tokenizer;

std::vector<int32_t> encode(std::string_view text, bool allow_special = true) {
  return gpt_oss_tokenizer().encode(text, allow_special);
}

TEST(Tokenizer, EncodesEveryGoldenLikeHuggingFace) {
  const auto goldens = nlohmann::json::parse(test::read_file(test::test_data_dir() / "tokenizer_goldens.json"));
  ASSERT_EQ(goldens.size(), 40u);
  for (const auto& golden : goldens) {
    const auto text = golden.at("text").get<std::string>();
    const auto ids = encode(text);
    EXPECT_EQ(ids, golden.at("ids").get<std::vector<int32_t>>()) << text;
    EXPECT_EQ(gpt_oss_tokenizer().decode(ids), golden.at("decoded").get<std::string>()) << text;
  }
}

// The prompts of the transformers reference were tokenized by Hugging Face too.
TEST(Tokenizer, EncodesTheReferencePrompts) {
  const auto reference = nlohmann::json::parse(test::read_file(test::test_data_dir() / "tiny-gpt-oss" / "reference.json"));
  const auto tensors = test::read_all_tensors(test::test_data_dir() / "tiny-gpt-oss" / "reference.safetensors");
  for (const auto& [name, prompt] : reference.at("prompts").items()) {
    const auto& ids = tensors.at(name + ".ids").i32;
    EXPECT_EQ(encode(prompt.at("text").get<std::string>()), ids) << name;
  }
}

TEST(Tokenizer, RoundTripsWikiText) {
  const std::string text = test::read_file(test::test_data_dir() / "wikitext-2-raw" / "wiki.test.raw");
  ASSERT_EQ(text.size(), 1290547u);
  const auto ids = encode(text, false);
  EXPECT_EQ(gpt_oss_tokenizer().decode(ids), text);
  EXPECT_GT(ids.size(), 250000u);
  EXPECT_LT(ids.size(), 330000u);
}

// Runs of 10M identical characters failed in the pre-tokenizer ("match limit exceeded"); any
// text must now encode and decode back.
TEST(Tokenizer, RoundTripsTenMillionIdenticalCharacters) {
  for (const char c : {'a', 'A', ' ', '7', '\n'}) {
    const std::string text(10'000'001, c);
    const auto ids = encode(text, false);
    EXPECT_FALSE(ids.empty()) << int{c};
    EXPECT_EQ(gpt_oss_tokenizer().decode(ids) == text, true) << int{c};
  }
}

TEST(Tokenizer, EncodesFromSeveralThreadsAtOnce) {
  const std::string text = test::read_file(test::test_data_dir() / "wikitext-2-raw" / "wiki.test.raw").substr(0, 200000);
  const auto expected = encode(text, false);
  std::vector<std::vector<int32_t>> results(4);
  std::vector<std::thread> threads;
  for (auto& result : results) threads.emplace_back([&] { result = encode(text, false); });
  for (auto& t : threads) t.join();
  for (const auto& result : results) EXPECT_EQ(result, expected);
}

// Valid UTF-8 from all planes, weighted towards what the pre-tokenizer treats specially.
std::string random_utf8(std::mt19937& rng, size_t chars) {
  static const char32_t kInteresting[] = {' ', '\n', '\r', '\t', '\'', 's', 'S', 'a', '0', '.', 0xA0, 0x180E,
                                          0x2009, 0x3000, 0x200D, 0x0301, 0xE9, 0x4E2D, 0x1F600, 0x10FFFF};
  std::string out;
  for (size_t i = 0; i < chars; ++i) {
    char32_t c = 0;
    switch (rng() % 4) {
      case 0: c = kInteresting[rng() % std::size(kInteresting)]; break;
      case 1: c = 0x20 + rng() % 0x5F; break;
      default:
        do c = rng() % 0x110000;
        while (c >= 0xD800 && c <= 0xDFFF);
    }
    if (c < 0x80) {
      out += static_cast<char>(c);
    } else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

TEST(Tokenizer, RoundTripsRandomUtf8) {
  std::mt19937 rng(7);
  for (int i = 0; i < 300; ++i) {
    const std::string text = random_utf8(rng, rng() % 200);
    EXPECT_EQ(gpt_oss_tokenizer().decode(encode(text, false)), text);
    EXPECT_EQ(gpt_oss_tokenizer().decode(encode(text, true)), text);
  }
}

// Defined behaviour for bytes that are not UTF-8: a run of them is a piece of its own, encoded
// through its bytes' tokens, so every byte string round-trips exactly.
TEST(Tokenizer, EncodesInvalidUtf8AsItsBytes) {
  const auto& tok = gpt_oss_tokenizer();
  const std::string lone = "a\xff" "b";
  EXPECT_EQ(encode(lone), (std::vector<int32_t>{encode("a")[0], tok.encode("\xff", false)[0], encode("b")[0]}));
  EXPECT_EQ(tok.token_bytes(tok.encode("\xff", false)[0]), "\xff");
  // A truncated character before a space: the valid text around it tokenizes as usual.
  const std::string truncated = "Hello \xe4\xb8 world";
  const auto ids = encode(truncated);
  EXPECT_EQ(tok.decode(ids), truncated);
  EXPECT_EQ(ids.front(), encode("Hello")[0]);
  EXPECT_EQ(ids.back(), encode(" world")[0]);
  std::mt19937 rng(11);
  for (int i = 0; i < 300; ++i) {
    std::string bytes(rng() % 64, '\0');
    for (auto& b : bytes) b = static_cast<char>(rng());
    EXPECT_EQ(tok.decode(encode(bytes)), bytes);
  }
}

TEST(Tokenizer, SpecialTokensAreTextWithoutAllowSpecial) {
  const auto& tok = gpt_oss_tokenizer();
  EXPECT_EQ(encode("<|start|>user", true), (std::vector<int32_t>{200006, 1428}));
  const auto plain = encode("<|start|>user", false);
  EXPECT_GT(plain.size(), 2u);
  for (const int32_t id : plain) EXPECT_FALSE(tok.is_special(id));
  EXPECT_EQ(tok.decode(plain), "<|start|>user");
  // Longest match first: "<|endoftext|>" is not "<|end|>" + text.
  EXPECT_EQ(encode("<|endoftext|>"), (std::vector<int32_t>{199999}));
}

TEST(Tokenizer, LooksUpSpecialTokens) {
  const auto& tok = gpt_oss_tokenizer();
  EXPECT_EQ(tok.vocab_size(), 200019);
  EXPECT_EQ(tok.special_token("<|return|>"), 200002);
  EXPECT_EQ(tok.special_token("<|call|>"), 200012);
  EXPECT_EQ(tok.special_token("<|endofprompt|>"), 200018);
  EXPECT_EQ(tok.special_token("hello"), std::nullopt);
  EXPECT_TRUE(tok.is_special(200006));
  EXPECT_FALSE(tok.is_special(13225));
  EXPECT_FALSE(tok.is_special(-1));
  EXPECT_FALSE(tok.is_special(300000));
  EXPECT_EQ(tok.token_bytes(200007), "<|end|>");
  EXPECT_EQ(tok.token_bytes(220), " ");
}

TEST(Tokenizer, RejectsIdsOutsideTheVocabulary) {
  const auto& tok = gpt_oss_tokenizer();
  for (const int32_t id : {-1, 200019, 201087, 1 << 30}) {
    const std::vector<int32_t> ids = {13225, id};
    try {
      tok.decode(ids);
      ADD_FAILURE() << id;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("token id " + std::to_string(id)), std::string::npos) << e.what();
    }
    EXPECT_THROW(tok.token_bytes(id), Error);
  }
}

TEST(StreamingDecoder, HoldsPartialCharactersUntilComplete) {
  const auto& tok = gpt_oss_tokenizer();
  // "🤖" is two tokens: 93643 (3 bytes of it) and 244 (the last byte).
  StreamingDecoder decoder(tok);
  EXPECT_EQ(decoder.feed(75339), "emoji");
  EXPECT_EQ(decoder.feed(25), ":");
  EXPECT_EQ(decoder.feed(93643), " ");
  EXPECT_EQ(decoder.feed(244), "\xF0\x9F\xA4\x96");
  EXPECT_EQ(decoder.flush(), "");
}

TEST(StreamingDecoder, ConcatenationEqualsLossyDecodeOfTheWhole) {
  const auto& tok = gpt_oss_tokenizer();
  std::mt19937 rng(3);
  for (int i = 0; i < 100; ++i) {
    const std::string text = random_utf8(rng, rng() % 100);
    StreamingDecoder decoder(tok);
    std::string streamed;
    for (const int32_t id : encode(text, false)) {
      const std::string piece = decoder.feed(id);
      std::string valid;  // every piece on its own is whole characters: valid UTF-8
      append_utf8_lossy(piece, valid, /*final=*/true);
      EXPECT_EQ(valid, piece);
      streamed += piece;
    }
    streamed += decoder.flush();
    EXPECT_EQ(streamed, text);
  }
}

TEST(StreamingDecoder, ReplacesBytesThatCannotFormCharacters) {
  const auto& tok = gpt_oss_tokenizer();
  const int32_t ff = tok.encode("\xff", false)[0];
  const int32_t e4 = tok.encode("\xe4", false)[0];
  StreamingDecoder decoder(tok);
  EXPECT_EQ(decoder.feed(ff), "\xEF\xBF\xBD");
  EXPECT_EQ(decoder.feed(e4), "");  // may still become a character
  EXPECT_EQ(decoder.feed(encode("a")[0]), "\xEF\xBF\xBD" "a");
  EXPECT_EQ(decoder.feed(e4), "");
  EXPECT_EQ(decoder.flush(), "\xEF\xBF\xBD");
  EXPECT_EQ(decoder.flush(), "");
  EXPECT_THROW(decoder.feed(200019), Error);
}

}  // namespace
}  // namespace gptoss
