// Loading tokenizer.json: BPE merge ranks and ignore_merges on small hand-made vocabularies, both
// merge formats, and one-line errors for files that are broken or use what is not supported.
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "gptoss/error.h"
#include "gptoss/tokenizer.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

using nlohmann::json;

// GPT-2's bytes_to_unicode: the character tokenizer.json writes for a byte.
std::string byte_char(int byte) {
  int code_point = byte;
  if (!((byte >= 0x21 && byte <= 0x7E) || (byte >= 0xA1 && byte <= 0xAC) || byte >= 0xAE)) {
    int n = 0;
    for (int b = 0; b < byte; ++b)
      if (!((b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE)) ++n;
    code_point = 256 + n;
  }
  if (code_point < 0x80) return std::string(1, static_cast<char>(code_point));
  return {static_cast<char>(0xC0 | (code_point >> 6)), static_cast<char>(0x80 | (code_point & 0x3F))};
}

// Ids 0..255 are the bytes; `extra` tokens (ASCII) follow from 256.
json small_tokenizer(const std::vector<std::string>& extra, const json& merges, bool ignore_merges) {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
  for (size_t i = 0; i < extra.size(); ++i) vocab[extra[i]] = 256 + i;
  return {
      {"version", "1.0"},
      {"truncation", nullptr},
      {"padding", nullptr},
      {"added_tokens",
       {{{"id", 256 + extra.size()}, {"content", "<|end|>"}, {"single_word", false}, {"lstrip", false},
         {"rstrip", false}, {"normalized", false}, {"special", true}}}},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Sequence"},
        {"pretokenizers",
         {{{"type", "Split"}, {"pattern", {{"Regex", "\\p{L}+|\\s+|[^\\s\\p{L}]+"}}}, {"behavior", "Isolated"}, {"invert", false}},
          {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", false}}}}}},
      {"post_processor", nullptr},
      {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
      {"model",
       {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr}, {"continuing_subword_prefix", nullptr},
        {"end_of_word_suffix", nullptr}, {"fuse_unk", false}, {"byte_fallback", false},
        {"ignore_merges", ignore_merges}, {"vocab", vocab}, {"merges", merges}}}};
}

class TokenizerJsonFile : public ::testing::Test {
 protected:
  Tokenizer load(const json& doc) {
    test::write_file(file_, doc.dump());
    return Tokenizer::load(file_);
  }

  // Loading fails with one line that contains the file name and every needle.
  void expect_error(const json& doc, std::initializer_list<std::string> needles) {
    test::write_file(file_, doc.dump());
    try {
      Tokenizer::load(file_);
      ADD_FAILURE() << "loaded";
    } catch (const Error& e) {
      const std::string what = e.what();
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
      EXPECT_NE(what.find(file_.string()), std::string::npos) << what;
      for (const auto& n : needles) EXPECT_NE(what.find(n), std::string::npos) << "missing '" << n << "' in " << what;
    }
  }

  test::TempDir dir_;
  std::filesystem::path file_ = dir_ / "tokenizer.json";
};

constexpr int32_t kA = 'a', kC = 'c';
constexpr int32_t kAb = 256, kAbc = 258, kXyz = 259;  // and "bc" is 257
const std::vector<std::string> kExtra = {"ab", "bc", "abc", "xyz"};

TEST_F(TokenizerJsonFile, MergesLowestRankFirstNotLowestId) {
  // "b c" ranks before "a b" although "ab" has the lower id: a b c → a bc → abc.
  const auto tok = load(small_tokenizer(kExtra, {"b c", "a b", "a bc"}, false));
  EXPECT_EQ(tok.encode("abc", false), (std::vector<int32_t>{kAbc}));
  // With "a b" first: a b c → ab c, and no merge of "ab c" is listed.
  const auto other = load(small_tokenizer(kExtra, {"a b", "b c", "a bc"}, false));
  EXPECT_EQ(other.encode("abc", false), (std::vector<int32_t>{kAb, kC}));
  EXPECT_EQ(other.decode(other.encode("abc", false)), "abc");
}

TEST_F(TokenizerJsonFile, MergesMayBePairs) {
  const auto tok = load(small_tokenizer(kExtra, json::array({{"b", "c"}, {"a", "b"}, {"a", "bc"}}), false));
  EXPECT_EQ(tok.encode("abc ab", false), (std::vector<int32_t>{kAbc, ' ', kAb}));
}

TEST_F(TokenizerJsonFile, IgnoreMergesTakesWholeWordsFromTheVocabulary) {
  // No merge leads to "xyz": only ignore_merges finds it.
  EXPECT_EQ(load(small_tokenizer(kExtra, json::array(), true)).encode("xyz", false), (std::vector<int32_t>{kXyz}));
  EXPECT_EQ(load(small_tokenizer(kExtra, json::array(), false)).encode("xyz", false),
            (std::vector<int32_t>{'x', 'y', 'z'}));
}

TEST_F(TokenizerJsonFile, BytesOutsideAsciiUseTheByteLevelAlphabet) {
  const auto tok = load(small_tokenizer(kExtra, json::array(), false));
  EXPECT_EQ(tok.encode(" \xC3\xA9\n", false), (std::vector<int32_t>{' ', 0xC3, 0xA9, '\n'}));
  EXPECT_EQ(tok.encode("a<|end|>", true), (std::vector<int32_t>{kA, 260}));
  EXPECT_EQ(tok.vocab_size(), 261);
}

TEST_F(TokenizerJsonFile, AcceptsAModelDirectory) {
  load(small_tokenizer(kExtra, json::array(), false));
  EXPECT_EQ(Tokenizer::load(dir_.path()).vocab_size(), 261);
}

TEST_F(TokenizerJsonFile, MissingFilesAreNamed) {
  try {
    Tokenizer::load(dir_ / "nowhere.json");
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("nowhere.json"), std::string::npos) << e.what();
  }
  test::TempDir empty;
  try {
    Tokenizer::load(empty.path());
    ADD_FAILURE();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("no tokenizer.json"), std::string::npos) << e.what();
  }
}

TEST_F(TokenizerJsonFile, BrokenFilesGiveOneLineErrors) {
  test::write_file(file_, "{\"model\": {\"vocab\": {\"a\": 1,");
  EXPECT_THROW(Tokenizer::load(file_), Error);
  expect_error(json::array(), {"object"});
  auto doc = small_tokenizer(kExtra, {"a zz"}, false);
  expect_error(doc, {"model.merges entry 0", "right token"});
  doc = small_tokenizer(kExtra, {"a b c"}, false);
  expect_error(doc, {"model.merges entry 0", "two tokens"});
  doc = small_tokenizer(kExtra, json::array({{"a"}}), false);
  expect_error(doc, {"model.merges entry 0", "pair"});
  doc = small_tokenizer(kExtra, json::array(), false);
  doc["model"]["vocab"].erase(byte_char('q'));
  expect_error(doc, {"no token for byte 113"});
  doc = small_tokenizer(kExtra, json::array(), false);
  doc["model"]["vocab"]["\xE4\xB8\xAD"] = 300;
  expect_error(doc, {"model.vocab entry", "byte-level"});
  doc = small_tokenizer(kExtra, json::array(), false);
  doc["model"]["vocab"]["qq"] = "x";
  expect_error(doc, {"model.vocab entry 'qq'", "integer"});
  doc = small_tokenizer(kExtra, json::array(), false);
  doc["model"]["vocab"]["qq"] = 5;
  expect_error(doc, {"id 5", "two tokens"});
  doc = small_tokenizer(kExtra, json::array(), false);
  doc["model"].erase("vocab");
  expect_error(doc, {"model.vocab"});
}

TEST_F(TokenizerJsonFile, UnsupportedFeaturesAreRejectedNotApproximated) {
  auto doc = small_tokenizer(kExtra, json::array(), false);
  doc["normalizer"] = {{"type", "NFC"}};
  expect_error(doc, {"'normalizer'"});
  doc = small_tokenizer(kExtra, json::array(), false);
  doc["pre_tokenizer"] = {{"type", "Whitespace"}};
  expect_error(doc, {"'pre_tokenizer.type'", "Whitespace"});
  doc = small_tokenizer(kExtra, json::array(), false);
  doc["pre_tokenizer"]["pretokenizers"][1]["use_regex"] = true;
  expect_error(doc, {"use_regex"});
  doc = small_tokenizer(kExtra, json::array(), false);
  doc["pre_tokenizer"]["pretokenizers"][0]["behavior"] = "Removed";
  expect_error(doc, {"behavior", "Removed"});
  doc = small_tokenizer(kExtra, json::array(), false);
  doc["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "(";
  expect_error(doc, {"pre-tokenizer regex"});
  doc = small_tokenizer(kExtra, json::array(), false);
  doc["model"]["type"] = "WordPiece";
  expect_error(doc, {"'model.type'", "WordPiece"});
  doc = small_tokenizer(kExtra, json::array(), false);
  doc["model"]["dropout"] = 0.1;
  expect_error(doc, {"model.dropout"});
  doc = small_tokenizer(kExtra, json::array(), false);
  doc["decoder"] = nullptr;
  expect_error(doc, {"'decoder'"});
  for (const char* flag : {"lstrip", "rstrip", "single_word", "normalized"}) {
    doc = small_tokenizer(kExtra, json::array(), false);
    doc["added_tokens"][0][flag] = true;
    expect_error(doc, {std::string("added_tokens[0].") + flag});
  }
}

// 100k nested '[' overflowed the stack: the "got <value>" of an error message dumps recursively.
TEST_F(TokenizerJsonFile, DeeplyNestedValuesAreRefused) {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  for (const std::string key : {"\"lstrip\":false", "\"add_prefix_space\":false"}) {
    std::string text = small_tokenizer(kExtra, json::array(), false).dump();
    const size_t at = text.find(key);
    ASSERT_NE(at, std::string::npos) << key;
    text.replace(at + key.size() - 5, 5, deep);
    test::write_file(file_, text);
    try {
      Tokenizer::load(file_);
      ADD_FAILURE() << key << ": loaded";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("JSON nests deeper than 64 levels"), std::string::npos) << e.what();
    }
  }
}

TEST_F(TokenizerJsonFile, AFifoIsRefusedRatherThanWaitedOn) {
  const auto fifo = dir_ / "fifo.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  try {
    Tokenizer::load(fifo);
    ADD_FAILURE() << "loaded";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("is not a regular file"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace gptoss
