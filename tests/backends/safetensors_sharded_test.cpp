// Tests of the sharded checkpoints of plugins/backends/torch_llama/safetensors.hpp
// (ModelWeights, write_sharded): splitting like transformers, stale files,
// and every class of malformed index.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "safetensors.hpp"
#include "safetensors_test_util.hpp"

namespace genius::llama::safetensors_test {
namespace {

// ---------------------------------------------------------------------------
// Sharded checkpoints

TEST_F(SafetensorsTest, ShardedWriteOfASmallModelIsOneFile) {
  const std::vector<float> a = {1, 2};
  const std::vector<std::int64_t> b = {7};
  write_sharded(dir_, {tensor("a", Dtype::F32, {2}, a), tensor("b", Dtype::I64, {1}, b)}, 1000);
  EXPECT_EQ(directory_listing(dir_), std::vector<std::string>{"model.safetensors"});
  const ModelWeights weights = ModelWeights::open(dir_);
  EXPECT_EQ(weights.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(weights.files().size(), 1u);
  EXPECT_EQ(weights.files().front().metadata(), (std::map<std::string, std::string>{{"format", "pt"}}));
  EXPECT_EQ(as_string(weights.at("a").data()), bytes_of(a));
  EXPECT_EQ(as_string(weights.at("b").data()), bytes_of(b));
  EXPECT_TRUE(weights.index_metadata().is_null());
  EXPECT_FALSE(weights.find("c").has_value());
  try {
    weights.at("c");
    FAIL() << "no error";
  } catch (const SafetensorsError& e) {
    EXPECT_THAT(e.what(), AllOf(HasSubstr(dir_.string()), HasSubstr("no tensor named 'c'")));
  }
}

TEST_F(SafetensorsTest, ShardedWriteSplitsLikeTransformers) {
  // Sizes 40, 40, 40, 200, 12 with a 100-byte limit: [t0 t1] fill the first
  // shard, t2 starts the next, t3 is too big and gets a shard of its own at
  // once, t4 joins t2: shards [t0 t1] [t3] [t2 t4].
  const std::vector<float> small(10, 1.0f), big(50, 2.0f), tail(3, 3.0f);
  const std::vector<TensorToWrite> tensors = {tensor("t0", Dtype::F32, {10}, small),
                                              tensor("t1", Dtype::F32, {10}, small),
                                              tensor("t2", Dtype::F32, {2, 5}, small),
                                              tensor("t3", Dtype::F32, {50}, big), tensor("t4", Dtype::F32, {3}, tail)};
  write_sharded(dir_, tensors, 100);
  EXPECT_EQ(directory_listing(dir_),
            (std::vector<std::string>{"model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                      "model-00003-of-00003.safetensors", "model.safetensors.index.json"}));
  EXPECT_EQ(read_bytes(dir_ / "model.safetensors.index.json"),
            "{\n"
            "  \"metadata\": {\n"
            "    \"total_size\": 332\n"
            "  },\n"
            "  \"weight_map\": {\n"
            "    \"t0\": \"model-00001-of-00003.safetensors\",\n"
            "    \"t1\": \"model-00001-of-00003.safetensors\",\n"
            "    \"t2\": \"model-00003-of-00003.safetensors\",\n"
            "    \"t3\": \"model-00002-of-00003.safetensors\",\n"
            "    \"t4\": \"model-00003-of-00003.safetensors\"\n"
            "  }\n"
            "}\n");

  const ModelWeights weights = ModelWeights::open(dir_);
  EXPECT_EQ(weights.size(), 5u);
  EXPECT_EQ(weights.files().size(), 3u);
  EXPECT_EQ(weights.index_metadata(), (nlohmann::json{{"total_size", 332}}));
  EXPECT_EQ(weights.at("t3").file->path().filename(), "model-00002-of-00003.safetensors");
  EXPECT_EQ(weights.at("t4").file->path().filename(), "model-00003-of-00003.safetensors");
  EXPECT_EQ(weights.at("t2").info->shape, (std::vector<std::int64_t>{2, 5}));
  for (const TensorToWrite& t : tensors)
    EXPECT_EQ(as_string(weights.at(t.name).data()), std::string(static_cast<const char*>(t.data), t.byte_size));

  // Moving keeps every Ref valid.
  ModelWeights moved = ModelWeights::open(dir_);
  const ByteView before = moved.at("t0").data();
  ModelWeights target = std::move(moved);
  EXPECT_EQ(target.at("t0").data().data, before.data);
}

TEST_F(SafetensorsTest, ShardedWriteRemovesStaleWeightFiles) {
  const std::vector<float> v(10, 1.0f);
  const std::vector<TensorToWrite> tensors = {tensor("a", Dtype::F32, {10}, v), tensor("b", Dtype::F32, {10}, v),
                                              tensor("c", Dtype::F32, {10}, v)};
  write_bytes(dir_ / "config.json", "{}");
  write_sharded(dir_, tensors, 1000);
  write_sharded(dir_, tensors, 40);  // 3 shards: model.safetensors must go, or it would win
  EXPECT_EQ(
      directory_listing(dir_),
      (std::vector<std::string>{"config.json", "model-00001-of-00003.safetensors", "model-00002-of-00003.safetensors",
                                "model-00003-of-00003.safetensors", "model.safetensors.index.json"}));
  write_sharded(dir_, tensors, 80);  // 2 shards
  EXPECT_EQ(directory_listing(dir_),
            (std::vector<std::string>{"config.json", "model-00001-of-00002.safetensors",
                                      "model-00002-of-00002.safetensors", "model.safetensors.index.json"}));
  EXPECT_EQ(ModelWeights::open(dir_).size(), 3u);
  write_sharded(dir_, tensors, 1000);
  EXPECT_EQ(directory_listing(dir_), (std::vector<std::string>{"config.json", "model.safetensors"}));
}

TEST_F(SafetensorsTest, ShardedWriteRefusesDuplicatesBeforeWriting) {
  const std::vector<float> v = {1};
  EXPECT_THROW(write_sharded(dir_ / "out", {tensor("a", Dtype::F32, {1}, v), tensor("a", Dtype::F32, {1}, v)}, 1),
               SafetensorsError);
  EXPECT_FALSE(fs::exists(dir_ / "out"));
}

TEST_F(SafetensorsTest, SingleFileWinsOverIndex) {
  const std::vector<float> v = {1};
  write_safetensors(dir_ / "model.safetensors", {tensor("single", Dtype::F32, {1}, v)});
  write_bytes(dir_ / "model.safetensors.index.json", "not even json");
  EXPECT_EQ(ModelWeights::open(dir_).names(), std::vector<std::string>{"single"});
}

// Shards for the index tests: s1 holds a and b, s2 holds c.
class ShardedIndex : public SafetensorsTest {
 protected:
  void SetUp() override {
    SafetensorsTest::SetUp();
    write_safetensors(dir_ / "s1.safetensors", {tensor("a", Dtype::F32, {2}, v_), tensor("b", Dtype::F32, {2}, v_)});
    write_safetensors(dir_ / "s2.safetensors", {tensor("c", Dtype::F32, {2}, v_)});
  }
  void write_index(const std::string& text) { write_bytes(dir_ / "model.safetensors.index.json", text); }
  std::string index_path() const { return (dir_ / "model.safetensors.index.json").string(); }

  const std::vector<float> v_ = {1, 2};
};

TEST_F(ShardedIndex, OpensEachShardOnce) {
  write_index(R"({"metadata":{"total_size":24},)"
              R"("weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s2.safetensors"}})");
  const ModelWeights weights = ModelWeights::open(dir_);
  EXPECT_EQ(weights.files().size(), 2u);
  EXPECT_EQ(weights.names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(weights.at("a").file, weights.at("b").file);
  EXPECT_EQ(weights.at("c").file->path(), dir_ / "s2.safetensors");
  EXPECT_EQ(as_string(weights.at("c").data()), bytes_of(v_));
}

TEST_F(ShardedIndex, RejectsMissingShard) {
  write_index(R"({"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s3.safetensors"}})");
  EXPECT_THAT(weights_error(), AllOf(HasSubstr(index_path()), HasSubstr("shard 's3.safetensors' (holding tensor 'c') "
                                                                        "does not exist")));
}

TEST_F(ShardedIndex, RejectsPathTraversal) {
  // The escaping file exists, so only the name check can stop it.
  const fs::path outside = dir_.parent_path() / (dir_.filename().string() + "-outside.safetensors");
  write_safetensors(outside, {tensor("c", Dtype::F32, {2}, v_)});
  const std::string escape = "../" + outside.filename().string();
  for (const std::string& shard : {escape, std::string("/etc/passwd"), std::string("sub/s2.safetensors"),
                                   std::string(".."), std::string("sub\\\\s2.safetensors"), std::string("")}) {
    SCOPED_TRACE(shard);
    write_index(R"({"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":")" + shard + R"("}})");
    EXPECT_THAT(weights_error(), AllOf(HasSubstr(index_path()), HasSubstr("of tensor 'c' is not a plain file name "
                                                                          "inside the checkpoint directory")));
  }
  fs::remove(outside);
}

TEST_F(ShardedIndex, RejectsTensorMissingFromItsShard) {
  write_index(R"({"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s2.safetensors",)"
              R"("d":"s2.safetensors"}})");
  EXPECT_THAT(weights_error(),
              AllOf(HasSubstr(index_path()), HasSubstr("weight_map puts tensor 'd' in shard "
                                                       "'s2.safetensors', which does not contain it")));
}

TEST_F(ShardedIndex, RejectsTensorInTheWrongShard) {
  write_index(R"({"weight_map":{"a":"s2.safetensors","b":"s1.safetensors","c":"s2.safetensors"}})");
  EXPECT_THAT(weights_error(), HasSubstr("weight_map puts tensor 'a' in shard 's2.safetensors', but it is in "
                                         "'s1.safetensors'"));
}

TEST_F(ShardedIndex, RejectsTensorInTwoShards) {
  write_safetensors(dir_ / "s2.safetensors", {tensor("c", Dtype::F32, {2}, v_), tensor("a", Dtype::F32, {2}, v_)});
  write_index(R"({"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s2.safetensors"}})");
  EXPECT_THAT(weights_error(), HasSubstr("tensor 'a' is in two shards: 's1.safetensors' and 's2.safetensors'"));
}

TEST_F(ShardedIndex, RejectsDuplicateWeightMapKeys) {
  write_index(R"({"weight_map":{"a":"s1.safetensors","a":"s2.safetensors"}})");
  EXPECT_THAT(weights_error(), AllOf(HasSubstr(index_path()), HasSubstr("duplicate key 'a' inside 'weight_map'")));
}

TEST_F(ShardedIndex, RejectsMalformedIndex) {
  write_index("{");
  EXPECT_THAT(weights_error(), HasSubstr("index is not valid JSON"));
  write_index("[]");
  EXPECT_THAT(weights_error(), HasSubstr("index is a JSON array, expected an object"));
  write_index(R"({"metadata":{}})");
  EXPECT_THAT(weights_error(), HasSubstr("missing \"weight_map\""));
  write_index(R"({"weight_map":[]})");
  EXPECT_THAT(weights_error(), HasSubstr("\"weight_map\" is a array, expected an object"));
  write_index(R"({"weight_map":{"a":1}})");
  EXPECT_THAT(weights_error(), HasSubstr("weight_map: shard of tensor 'a' is a number (1), expected a file name"));
  write_index(R"({"metadata":"x","weight_map":{}})");
  EXPECT_THAT(weights_error(), HasSubstr("\"metadata\" is a string, expected an object"));
}

TEST_F(ShardedIndex, ReportsAnInvalidShardByItsPath) {
  write_bytes(dir_ / "s2.safetensors", le64(100));
  write_index(R"({"weight_map":{"a":"s1.safetensors","b":"s1.safetensors","c":"s2.safetensors"}})");
  EXPECT_THAT(weights_error(), AllOf(HasSubstr((dir_ / "s2.safetensors").string()),
                                     HasSubstr("header length 100 runs past the end of the file")));
}

TEST_F(SafetensorsTest, RejectsDirectoryWithoutWeights) {
  EXPECT_THAT(weights_error(), HasSubstr("no model.safetensors and no model.safetensors.index.json in the directory"));
  try {
    (void)ModelWeights::open(dir_ / "missing");
    FAIL() << "no error";
  } catch (const SafetensorsError& e) {
    EXPECT_THAT(e.what(), HasSubstr("not a directory"));
  }
}

}  // namespace
}  // namespace genius::llama::safetensors_test
