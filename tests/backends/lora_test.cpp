// LoRA adapters and activation checkpointing of the torch-llama plugin,
// through the plugin path: PEFT's names and shapes (read back from the files
// with the safetensors reader, not from the adapters), merged weights against
// an independent W + scale * B A, training and reloading, and checkpointed
// gradients against plain ones.
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
  return test::scratch_dir("genius_lora_test", name);
}

std::shared_ptr<ModelBackend> load(const fs::path& dir) {
  const core::ResolvedConfig c = core::validate(
      core::RawConfig::parse("[model]\nplugin = \"torch-llama\"\n", "test.toml", {"model.path=" + dir.string()}),
      test::builtin_registry());
  return test::builtin_registry().create_as<ModelBackend>(PluginKind::ModelBackend, "torch-llama", c.view("model"));
}

const fs::path& base_dir() {
  static const fs::path d = [] {
    const fs::path dir = scratch("base");
    test::init_model(dir, "--arch llama --hidden 48 --layers 2 --heads 4 --kv-heads 2 --seed 3");
    return dir;
  }();
  return d;
}

const std::vector<std::string> kAll = {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};

LoraOptions lora(int rank, double alpha, std::vector<std::string> targets = kAll) {
  LoraOptions o;
  o.rank = rank;
  o.alpha = alpha;
  o.target_modules = std::move(targets);
  o.seed = 11;
  return o;
}

std::vector<ScoringExample> examples(ModelBackend& m) {
  return {{m.encode("2+2="), m.encode("4\n")}, {m.encode("Q: 7-1+9\nA:"), m.encode("7-1=6\n6+9=15\n\\boxed{15}")}};
}

// A tensor of a safetensors file as float64.
at::Tensor read(const llama::SafetensorsFile& file, const std::string& name) {
  const llama::TensorInfo& info = file.at(name);
  EXPECT_EQ(info.dtype, llama::Dtype::F32) << name;
  const llama::ByteView bytes = file.data(info);
  return at::from_blob(const_cast<std::byte*>(bytes.data), info.shape, at::kFloat).to(at::kDouble);
}

std::string module_of(int layer, const std::string& target) {
  const bool attention = target.find("_proj") == 1 || target == "o_proj";
  return "model.layers." + std::to_string(layer) + (attention ? ".self_attn." : ".mlp.") + target;
}

// Give every adapter matrix random values (B starts at zero, which would hide mistakes).
void randomize(ModelBackend& m, double scale = 0.05) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(5);
  for (at::Tensor& p : m.parameters()) p.normal_(0.0, scale);
}

TEST(Lora, AdaptersFollowPeftNamesAndShapesAndStartAsTheBase) {
  auto m = load(base_dir());
  const auto batch = examples(*m);
  const at::Tensor before = m->sequence_logprobs(batch).detach();
  m->add_lora(lora(4, 8.0));
  EXPECT_EQ(m->parameters().size(), 2u * 7u * 2u) << "A and B of 7 modules in 2 layers";
  EXPECT_TRUE(at::equal(m->sequence_logprobs(batch).detach(), before)) << "B = 0: the adapted model is the base";

  const fs::path out = scratch("fresh-adapter");
  m->save(out);
  std::ifstream in(out / "adapter_config.json");
  const nlohmann::json config = nlohmann::json::parse(in);
  EXPECT_EQ(config["peft_type"], "LORA");
  EXPECT_EQ(config["task_type"], "CAUSAL_LM");
  EXPECT_EQ(config["r"], 4);
  EXPECT_EQ(config["lora_alpha"], 8.0);
  EXPECT_EQ(config["bias"], "none");
  EXPECT_EQ(config["fan_in_fan_out"], false);
  EXPECT_EQ(config["target_modules"], nlohmann::json(kAll));
  EXPECT_FALSE(fs::exists(out / "model.safetensors")) << "an adapter directory holds no base weights";

  const auto base = llama::SafetensorsFile::open(base_dir() / "model.safetensors");
  const auto adapter = llama::SafetensorsFile::open(out / "adapter_model.safetensors");
  EXPECT_EQ(adapter.tensors().size(), 28u);
  for (int layer = 0; layer < 2; ++layer)
    for (const std::string& target : kAll) {
      const std::string module = module_of(layer, target);
      const auto& w = base.at(module + ".weight").shape;  // [out, in]
      const auto& a = adapter.at("base_model.model." + module + ".lora_A.weight").shape;
      const auto& b = adapter.at("base_model.model." + module + ".lora_B.weight").shape;
      EXPECT_EQ(a, (std::vector<std::int64_t>{4, w[1]})) << module;
      EXPECT_EQ(b, (std::vector<std::int64_t>{w[0], 4})) << module;
      EXPECT_TRUE(
          at::equal(read(adapter, "base_model.model." + module + ".lora_B.weight"), at::zeros({w[0], 4}, at::kDouble)));
    }
}

TEST(Lora, MergedWeightsAreBasePlusScaledBA) {
  auto m = load(base_dir());
  m->add_lora(lora(3, 12.0, {"q_proj", "v_proj", "down_proj"}));
  randomize(*m);
  const fs::path adapter_dir = scratch("random-adapter"), merged_dir = scratch("merged");
  m->save(adapter_dir);
  const auto batch = examples(*m);
  const at::Tensor adapted = m->sequence_logprobs(batch).detach();

  auto merged = load(base_dir());
  merged->load_weights(adapter_dir);  // creates the adapters from adapter_config.json
  EXPECT_TRUE(at::allclose(merged->sequence_logprobs(batch).detach(), adapted, 0, 1e-5));
  merged->merge_lora();
  EXPECT_TRUE(at::allclose(merged->sequence_logprobs(batch).detach(), adapted, 0, 1e-4));
  merged->save(merged_dir);

  const auto base = llama::SafetensorsFile::open(base_dir() / "model.safetensors");
  const auto adapter = llama::SafetensorsFile::open(adapter_dir / "adapter_model.safetensors");
  const auto out = llama::SafetensorsFile::open(merged_dir / "model.safetensors");
  const double scale = 12.0 / 3.0;
  for (int layer = 0; layer < 2; ++layer)
    for (const std::string& target : kAll) {
      const std::string module = module_of(layer, target);
      at::Tensor expected = read(base, module + ".weight");
      if (target == "q_proj" || target == "v_proj" || target == "down_proj")
        expected = expected + scale * at::matmul(read(adapter, "base_model.model." + module + ".lora_B.weight"),
                                                 read(adapter, "base_model.model." + module + ".lora_A.weight"));
      const at::Tensor got = read(out, module + ".weight");
      EXPECT_LT((got - expected).abs().max().item<double>(), 1e-6) << module;
    }
  EXPECT_TRUE(at::allclose(load(merged_dir)->sequence_logprobs(batch).detach(), adapted, 0, 1e-4));
}

TEST(Lora, TrainingMovesOnlyTheAdaptersLowersTheLossAndReloads) {
  auto m = load(base_dir());
  m->add_lora(lora(4, 16.0));
  auto reference = m->frozen_copy();
  const auto batch = examples(*m);
  const at::Tensor start = reference->sequence_logprobs(batch).detach();
  m->set_training(true);
  torch::optim::Adam adam(m->parameters(), torch::optim::AdamOptions(1e-2));
  double first = 0, last = 0;
  for (int step = 0; step < 8; ++step) {
    adam.zero_grad();
    const at::Tensor loss = -m->sequence_logprobs(batch).sum();
    loss.backward();
    adam.step();
    (step == 0 ? first : last) = loss.item<double>();
  }
  m->set_training(false);
  EXPECT_LT(last, first - 1.0) << "8 Adam steps on the adapters lower the NLL";
  EXPECT_TRUE(at::equal(reference->sequence_logprobs(batch).detach(), start))
      << "the reference keeps the adapters it was copied with";

  const fs::path out = scratch("trained-adapter");
  m->save(out);
  auto reloaded = load(base_dir());
  reloaded->load_weights(out);
  EXPECT_TRUE(at::allclose(reloaded->sequence_logprobs(batch).detach(), m->sequence_logprobs(batch).detach(), 0, 1e-5));
  // The base weights on disk never changed: a fresh base scores as before.
  EXPECT_TRUE(at::allclose(load(base_dir())->sequence_logprobs(batch).detach(), start, 0, 1e-6));
}

TEST(Lora, AdaptersPeftWritesButWeCannotRunAreRefusedByName) {
  auto m = load(base_dir());
  m->add_lora(lora(2, 4.0, {"q_proj"}));
  const fs::path dir = scratch("dora");
  m->save(dir);
  std::ifstream in(dir / "adapter_config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  in.close();
  auto rewrite = [&](const nlohmann::json& c) { std::ofstream(dir / "adapter_config.json") << c.dump(); };
  auto error_of = [&] {
    try {
      load(base_dir())->load_weights(dir);
    } catch (const PluginError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  nlohmann::json dora = config;
  dora["use_dora"] = true;
  rewrite(dora);
  EXPECT_THAT(error_of(), HasSubstr("adapter_config.json: DoRA adapters (use_dora) are not supported"));
  nlohmann::json regex = config;
  regex["target_modules"] = ".*proj";
  rewrite(regex);
  EXPECT_THAT(error_of(), HasSubstr("target_modules must be a list of module names"));
  nlohmann::json bigger = config;
  bigger["r"] = 3;
  rewrite(bigger);
  EXPECT_THAT(error_of(), HasSubstr("has shape [2, 48], expected [3, 48]"));
}

// The gradients of every trainable tensor, with checkpointing on or off.
std::vector<at::Tensor> gradients(bool checkpointing, bool with_lora) {
  auto m = load(base_dir());
  if (with_lora) {
    m->add_lora(lora(4, 8.0));
    randomize(*m);
  }
  m->set_gradient_checkpointing(checkpointing);
  m->set_training(true);
  const at::Tensor loss = -m->sequence_logprobs(examples(*m)).sum();
  loss.backward();
  std::vector<at::Tensor> grads;
  for (const at::Tensor& p : m->parameters()) grads.push_back(p.grad().defined() ? p.grad().clone() : at::Tensor());
  return grads;
}

TEST(GradientCheckpointing, GivesTheSameGradients) {
  for (bool with_lora : {false, true}) {
    const auto plain = gradients(false, with_lora), recomputed = gradients(true, with_lora);
    ASSERT_EQ(plain.size(), recomputed.size());
    double worst = 0, largest = 0;
    for (std::size_t i = 0; i < plain.size(); ++i) {
      ASSERT_EQ(plain[i].defined(), recomputed[i].defined()) << i;
      if (!plain[i].defined()) continue;
      worst = std::max(worst, (plain[i] - recomputed[i]).abs().max().item<double>());
      largest = std::max(largest, plain[i].abs().max().item<double>());
    }
    EXPECT_GT(largest, 1e-3) << "the gradients are not all zero";
    EXPECT_LT(worst, 1e-5 * std::max(1.0, largest)) << (with_lora ? "LoRA" : "full fine-tuning");
  }
}

}  // namespace
}  // namespace genius
