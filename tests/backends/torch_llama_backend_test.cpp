// The torch-llama plugin through the real plugin path: models made by
// `genius init-model`, loaded, scored, trained a step, saved and reloaded.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <nlohmann/json.hpp>

#include <genius/model_backend.hpp>

#include "config/config.hpp"
#include "plugins/plugin_registry.hpp"
#include "safetensors.hpp"
#include "test_support.hpp"

namespace genius {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

fs::path scratch(const std::string& name) {
  return test::scratch_dir("genius_backend_test", name);
}

fs::path init_model(const std::string& name, const std::string& args) {
  const fs::path dir = scratch(name);
  test::init_model(dir, args);
  return dir;
}

const core::PluginRegistry& registry() {
  return test::builtin_registry();
}

std::shared_ptr<ModelBackend> load(const fs::path& dir, std::vector<std::string> keys = {}) {
  keys.insert(keys.begin(), "model.path=" + dir.string());
  const core::ResolvedConfig c =
      core::validate(core::RawConfig::parse("[model]\nplugin = \"torch-llama\"\n", "test.toml", keys), registry());
  return registry().create_as<ModelBackend>(PluginKind::ModelBackend, "torch-llama", c.view("model"));
}

const fs::path& llama_dir() {
  static const fs::path d = init_model("llama", "--arch llama --hidden 48 --layers 2 --heads 4 --kv-heads 2 --seed 3");
  return d;
}

std::vector<ScoringExample> examples(ModelBackend& m) {
  return {{m.encode("2+2="), m.encode("4\n")},
          {m.encode("Q: 7-1+9\nA:"), m.encode("7-1=6\n6+9=15\n\\boxed{15}")},
          {m.encode("x"), m.encode("")}};
}

TEST(TorchLlama, ManifestKeysAndChatFormat) {
  const core::PluginInfo* info = registry().find(PluginKind::ModelBackend, "torch-llama");
  ASSERT_NE(info, nullptr);
  for (const char* key : {"path", "device", "dtype", "chat_template", "max_batch_rows"})
    EXPECT_NE(info->manifest.find_key(key), nullptr) << key;
  auto m = load(llama_dir());
  EXPECT_EQ(m->format_chat("What is 2+2?"), "What is 2+2?\n");  // plain template of init-model's byte vocabulary
  EXPECT_EQ(m->decode(m->encode("héllo, wörld")), "héllo, wörld");
  EXPECT_EQ(m->vocab_size(), 259);
  EXPECT_EQ(m->device(), "cpu");
  EXPECT_EQ(m->dtype(), "float32");
}

TEST(TorchLlama, SystemPromptAndResponsePrefixShapeEveryPrompt) {
  auto m = load(llama_dir(),
                {"model.system_prompt=Think step by step.", "model.response_prefix=The reasoning steps are:\n\n"});
  EXPECT_EQ(m->format_chat("What is 2+2?"), "Think step by step.\nWhat is 2+2?\nThe reasoning steps are:\n\n");
  // The frozen copy (the reference model) formats prompts the same way.
  EXPECT_EQ(m->frozen_copy()->format_chat("x"), m->format_chat("x"));
}

TEST(TorchLlama, SequenceLogprobsAreSumsOfTokenLogprobsAndMatchGeneration) {
  auto m = load(llama_dir());
  const auto batch = examples(*m);
  const at::Tensor sums = m->sequence_logprobs(batch);
  const auto tokens = m->token_logprobs(batch);
  ASSERT_EQ(sums.size(0), 3);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    ASSERT_EQ(tokens[i].size(), batch[i].response_ids.size());
    double sum = 0;
    for (double x : tokens[i]) sum += x;
    EXPECT_NEAR(sums[static_cast<std::int64_t>(i)].item<double>(), sum, 1e-4);
  }
  EXPECT_EQ(sums[2].item<double>(), 0.0);  // empty response
  // Padding does not leak: each example scored alone gives the same value.
  for (std::size_t i = 0; i < batch.size(); ++i)
    EXPECT_NEAR(m->sequence_logprobs({batch[i]})[0].item<double>(), sums[static_cast<std::int64_t>(i)].item<double>(),
                1e-4);
  // The log-prob generation reports is the one scoring computes.
  GenerationRequest r;
  r.prompt_ids = batch[1].prompt_ids;
  r.temperature = 1.0;
  r.max_new_tokens = 10;
  r.seed = 4;
  const GeneratedSample s = m->generate({r})[0].samples[0];
  EXPECT_NEAR(m->sequence_logprobs({{r.prompt_ids, s.token_ids}})[0].item<double>(), s.cumulative_logprob, 1e-3);
}

TEST(TorchLlama, GradientsFlowAndTheFrozenCopyStaysPut) {
  auto m = load(llama_dir());
  auto ref = m->frozen_copy();
  const auto batch = examples(*m);
  const double before = ref->sequence_logprobs(batch)[1].item<double>();
  m->set_training(true);
  torch::optim::SGD sgd(m->parameters(), torch::optim::SGDOptions(0.01));
  for (int step = 0; step < 3; ++step) {
    sgd.zero_grad();
    const at::Tensor loss = -m->sequence_logprobs(batch).sum();
    loss.backward();
    sgd.step();
  }
  const double after = m->sequence_logprobs(batch)[1].item<double>();
  EXPECT_GT(after, before + 1.0) << "three SGD steps on the NLL raise the log-prob";
  EXPECT_NEAR(ref->sequence_logprobs(batch)[1].item<double>(), before, 1e-6) << "the reference is a copy, not a view";
  for (const auto& p : ref->parameters()) EXPECT_FALSE(p.requires_grad());
}

TEST(TorchLlama, SaveAndReloadGiveTheSameModelInTheHfLayout) {
  auto m = load(llama_dir());
  m->set_training(true);
  torch::optim::SGD sgd(m->parameters(), torch::optim::SGDOptions(0.1));
  const auto batch = examples(*m);
  (-m->sequence_logprobs(batch).sum()).backward();
  sgd.step();
  const fs::path out = scratch("saved");
  m->save(out);
  for (const char* file : {"config.json", "tokenizer.json", "tokenizer_config.json", "model.safetensors"})
    EXPECT_TRUE(fs::exists(out / file)) << file;
  const auto st = llama::SafetensorsFile::open(out / "model.safetensors");
  EXPECT_NE(st.find("model.layers.1.self_attn.k_proj.weight"), nullptr);
  EXPECT_EQ(st.find("lm_head.weight"), nullptr) << "tied head is not saved (as transformers does)";
  EXPECT_EQ(st.metadata().at("format"), "pt");
  auto reloaded = load(out);
  const at::Tensor a = m->sequence_logprobs(batch), b = reloaded->sequence_logprobs(batch);
  EXPECT_TRUE(at::allclose(a, b, 0, 1e-6));
}

TEST(TorchLlama, Qwen2BfloatAndShardedCheckpoints) {
  const fs::path dir =
      init_model("qwen", "--arch qwen2 --hidden 32 --layers 2 --heads 4 --kv-heads 1 --untied --seed 5");
  auto f32 = load(dir);
  const auto batch = examples(*f32);
  const at::Tensor want = f32->sequence_logprobs(batch);
  // Re-save as bfloat16 shards; loading them back into float32 loses only bf16 rounding.
  auto bf16 = load(dir, {"model.dtype=bfloat16", "model.max_shard_bytes=20000"});
  EXPECT_EQ(bf16->dtype(), "bfloat16");
  const fs::path sharded = scratch("sharded");
  bf16->save(sharded);
  EXPECT_TRUE(fs::exists(sharded / "model.safetensors.index.json"));
  EXPECT_FALSE(fs::exists(sharded / "model.safetensors"));
  EXPECT_GT(llama::ModelWeights::open(sharded).files().size(), 2u);
  auto back = load(sharded);
  EXPECT_TRUE(at::allclose(back->sequence_logprobs(batch), want, 0.05, 0.05));
  EXPECT_NEAR(bf16->sequence_logprobs(batch)[1].item<double>(), want[1].item<double>(), 0.5);
  const nlohmann::json config = nlohmann::json::parse(std::ifstream(sharded / "config.json"));
  EXPECT_EQ(config["torch_dtype"], "bfloat16");
  EXPECT_EQ(config["model_type"], "qwen2");
}

TEST(TorchLlama, RefusesATokenizerLargerThanTheVocabulary) {
  const fs::path dir = init_model("mismatch", "--arch llama --hidden 32 --layers 1 --heads 2");
  nlohmann::json config = nlohmann::json::parse(std::ifstream(dir / "config.json"));
  config["vocab_size"] = 200;
  std::ofstream(dir / "config.json") << config.dump();
  try {
    load(dir);
    FAIL();
  } catch (const PluginError& e) {
    EXPECT_THAT(e.what(), HasSubstr("259"));
    EXPECT_THAT(e.what(), HasSubstr("200"));
  }
}

TEST(TorchLlama, MissingOrMisshapenWeightsAreNamed) {
  const fs::path dir = init_model("broken", "--arch llama --hidden 32 --layers 1 --heads 2");
  // Rewrite the checkpoint without one tensor.
  {
    const auto st = llama::SafetensorsFile::open(dir / "model.safetensors");
    std::vector<llama::TensorToWrite> keep;
    for (const auto& t : st.tensors())
      if (t.name != "model.norm.weight") {
        const auto bytes = st.data(t);
        keep.push_back({t.name, t.dtype, t.shape, bytes.data, bytes.size});
      }
    llama::write_safetensors(dir / "model2.safetensors", keep, {{"format", "pt"}});
  }
  fs::rename(dir / "model2.safetensors", dir / "model.safetensors");
  try {
    load(dir);
    FAIL();
  } catch (const PluginError& e) {
    EXPECT_THAT(e.what(), HasSubstr("missing"));
    EXPECT_THAT(e.what(), HasSubstr("model.norm.weight"));
  }
  EXPECT_THROW(load(scratch("nothing")), PluginError);
}

TEST(TorchLlama, GenerationRequestsAreValidated) {
  auto m = load(llama_dir());
  GenerationRequest r;
  r.prompt_ids = {1, 2, 300};
  EXPECT_THROW(m->generate({r}), PluginError);
}

}  // namespace
}  // namespace genius
