// Model directories: sharded with an index, or model*.safetensors without one.
#include <gtest/gtest.h>

#include "gptoss/error.h"
#include "io/checkpoint.h"
#include "support/test_support.h"

namespace gptoss {
namespace {

const std::string kOneByte = R"({"dtype":"U8","shape":[1],"data_offsets":[0,1]})";

TEST(Checkpoint, ReadsTheShardsTheIndexNames) {
  const Checkpoint c(test::tiny_model_dir());
  EXPECT_EQ(c.files().size(), 2u);
  EXPECT_TRUE(c.contains("model.embed_tokens.weight"));
  EXPECT_TRUE(c.contains("lm_head.weight"));
  EXPECT_EQ(c.tensor("model.layers.3.mlp.experts.down_proj_blocks").shape(), (std::vector<int64_t>{8, 32, 2, 16}));
}

TEST(Checkpoint, WithoutAnIndexLoadsEveryModelFile) {
  test::TempDir dir;
  test::write_file(dir / "model-a.safetensors", test::safetensors_bytes(R"({"x":)" + kOneByte + "}", "1"));
  test::write_file(dir / "model.safetensors", test::safetensors_bytes(R"({"y":)" + kOneByte + "}", "2"));
  test::write_file(dir / "other.safetensors", test::safetensors_bytes(R"({"z":)" + kOneByte + "}", "3"));
  const Checkpoint c(dir.path());
  EXPECT_EQ(c.names(), (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(*c.tensor("y").data, '2');
}

TEST(Checkpoint, MissingTensorNamesTheDirectoryAndTensor) {
  const Checkpoint c(test::tiny_model_dir());
  try {
    c.tensor("model.layers.9.self_attn.sinks");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing tensor 'model.layers.9.self_attn.sinks'"), std::string::npos);
  }
}

TEST(Checkpoint, SameTensorInTwoFilesIsAnError) {
  test::TempDir dir;
  test::write_file(dir / "model-1.safetensors", test::safetensors_bytes(R"({"x":)" + kOneByte + "}", "1"));
  test::write_file(dir / "model-2.safetensors", test::safetensors_bytes(R"({"x":)" + kOneByte + "}", "2"));
  EXPECT_THROW(Checkpoint{dir.path()}, Error);
}

TEST(Checkpoint, IndexNamingAMissingFileOrTensor) {
  test::TempDir dir;
  test::write_file(dir / "model-1.safetensors", test::safetensors_bytes(R"({"x":)" + kOneByte + "}", "1"));
  test::write_file(dir / "model.safetensors.index.json", R"({"weight_map":{"x":"model-2.safetensors"}})");
  EXPECT_THROW(Checkpoint{dir.path()}, Error);
  test::write_file(dir / "model.safetensors.index.json", R"({"weight_map":{"x":"model-1.safetensors","y":"model-1.safetensors"}})");
  try {
    Checkpoint c(dir.path());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("tensor 'y' is not in model-1.safetensors"), std::string::npos) << e.what();
  }
  test::write_file(dir / "model.safetensors.index.json", R"({"weight_map":{"x":"../model-1.safetensors"}})");
  EXPECT_THROW(Checkpoint{dir.path()}, Error);
}

TEST(Checkpoint, EmptyOrMissingDirectory) {
  test::TempDir dir;
  EXPECT_THROW(Checkpoint{dir.path()}, Error);
  EXPECT_THROW(Checkpoint{dir / "nope"}, Error);
}

}  // namespace
}  // namespace gptoss
