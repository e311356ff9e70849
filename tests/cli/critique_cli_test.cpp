// End-to-end: the critique line's commands (`slips`, `critic-eval`, `decode`)
// on tiny random models, and their refusals of bad input.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "genius_process.hpp"

namespace {

namespace fs = std::filesystem;
using genius_test::Output;
using genius_test::slurp;
using nlohmann::json;

Output genius(const std::string& args) {
  return genius_test::run_genius(args, "", "");
}

// Once per process: arith data (levels 2-3) and two tiny random models, an actor and a critic.
const fs::path& fixture() {
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / ("genius_critique_cli_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    EXPECT_EQ(
        genius("data arith --train 8 --eval 10 --seed 4 --levels 2-3 --out '" + (d / "data").string() + "'").exit_code,
        0);
    for (const char* name : {"actor", "critic"})
      EXPECT_EQ(genius("init-model --arch llama --hidden 32 --layers 1 --heads 4 --seed 3 --out '" +
                       (d / name).string() + "'")
                    .exit_code,
                0);
    return d;
  }();
  return dir;
}

std::string path(const std::string& name) {
  return "'" + (fixture() / name).string() + "'";
}

TEST(CliCritique, SlipsWritesTheDistributionAtomically) {
  Output o = genius("slips --model " + path("actor") + " --data " + path("data/train.jsonl") +
                    " --samples 2 --max-new-tokens 24 --out " + path("slips.json"));
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("responses"), std::string::npos) << o.out;
  const json j = json::parse(slurp(fixture() / "slips.json"));
  EXPECT_EQ(j["responses"].get<int>(), 16) << "8 queries x 2 samples";
  for (const char* kind : {"result", "operand", "carry", "rest", "boxed", "structure"})
    EXPECT_TRUE(j["kinds"].contains(kind)) << kind;
  EXPECT_FALSE(fs::exists(fixture() / "slips.json.tmp"));
}

TEST(CliCritique, CriticEvalMeasuresBothSets) {
  Output o = genius("critic-eval --critic " + path("critic") + " --actor " + path("actor") + " --data " +
                    path("data/eval.jsonl") + " --samples 2 --max-new-tokens 24 --json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const json j = json::parse(o.out);
  const json& synthetic = j["sets"]["synthetic"];
  EXPECT_EQ(synthetic["solutions"].get<int>(), 10);
  EXPECT_GT(synthetic["flawed_solutions"].get<int>(), 0);
  EXPECT_TRUE(synthetic["critic"].contains("step_auc"));
  EXPECT_TRUE(synthetic["actor_logprob"].contains("step_auc_cumulative"));
  EXPECT_EQ(j["sets"]["actor_samples"]["solutions"].get<int>(), 20);
}

TEST(CliCritique, BadInputIsAClearError) {
  Output o = genius("slips --data " + path("data/train.jsonl"));
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("missing --model"), std::string::npos) << o.err;
  o = genius("critic-eval --critic " + path("critic") + " --data " + path("data/eval.jsonl") + " --temperature nan");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("--temperature"), std::string::npos) << o.err;
  std::ofstream(fixture() / "words.jsonl")
      << "{\"id\": \"w1\", \"instruction\": \"two plus two\", \"answer\": \"4\"}\n";
  o = genius("critic-eval --critic " + path("critic") + " --data " + path("words.jsonl"));
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("words.jsonl: item 'w1' is not an arith query"), std::string::npos) << o.err;
  EXPECT_EQ(o.err.find("what()"), std::string::npos);
}

void write_config(const std::string& name, const std::string& sections) {
  std::ofstream(fixture() / name) << "[run]\nseed = 1\n[data]\neval = \"data/eval.jsonl\"\n"
                                     "[model]\nplugin = \"torch-llama\"\npath = \"actor\"\n"
                                  << sections;
}

TEST(CliCritique, DecodeReportsAccuracyPerLevelAndEachModelsCost) {
  write_config("greedy.toml",
               "[sampler]\nplugin = \"best-of-n\"\nn = 1\ntemperature = 0.0\nmax_tokens = 24\n"
               "[value]\nplugin = \"sequence-logprob\"\n");
  Output o = genius("decode " + path("greedy.toml") + " --json --out " + path("decode-greedy"));
  ASSERT_EQ(o.exit_code, 0) << o.err;
  json s = json::parse(o.out);
  EXPECT_EQ(s["items"].get<int>(), 10);
  EXPECT_TRUE(s["by_level"].contains("2"));
  EXPECT_TRUE(s["by_level"].contains("3"));
  EXPECT_GT(s["actor"]["generated_tokens"].get<long>(), 0);
  EXPECT_GT(s["actor"]["prompt_tokens"].get<long>(), 0);
  EXPECT_FALSE(s.contains("critic"));
  EXPECT_TRUE(fs::exists(fixture() / "decode-greedy" / "decode.jsonl"));

  write_config("refine.toml",
               "[critic]\nplugin = \"torch-llama\"\npath = \"critic\"\n"
               "[sampler]\nplugin = \"critique-refine\"\nn = 2\nrounds = 1\nmax_tokens = 24\n"
               "[value]\nplugin = \"critic\"\nscope = \"trajectory\"\n");
  o = genius("decode " + path("refine.toml") + " --json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  s = json::parse(o.out);
  EXPECT_GT(s["critic"]["scored_tokens"].get<long>(), 0);
  EXPECT_EQ(s["critic"]["generated_tokens"].get<long>(), 0) << "the critic only scores";
  const double flops = s["actor"]["flops"].get<double>() + s["critic"]["flops"].get<double>();
  EXPECT_DOUBLE_EQ(s["flops"].get<double>(), flops);
  const auto tokens = s["actor"]["generated_tokens"].get<double>() + s["actor"]["prompt_tokens"].get<double>() +
                      s["actor"]["scored_tokens"].get<double>();
  EXPECT_DOUBLE_EQ(s["actor"]["flops"].get<double>(), 2 * s["actor"]["parameters"].get<double>() * tokens);
}

TEST(CliCritique, DecodeRefusesAConfigItCannotRun) {
  write_config("no-critic.toml", "[sampler]\nplugin = \"critique-refine\"\n[value]\nplugin = \"sequence-logprob\"\n");
  Output o = genius("decode " + path("no-critic.toml"));
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("no-critic.toml:"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("'critique-refine' needs a [critic] section"), std::string::npos) << o.err;
  std::ofstream(fixture() / "no-eval.toml")
      << "[model]\nplugin = \"torch-llama\"\npath = \"actor\"\n[sampler]\nplugin = \"best-of-n\"\n"
         "[value]\nplugin = \"sequence-logprob\"\n";
  o = genius("decode " + path("no-eval.toml"));
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("data.eval"), std::string::npos) << o.err;
  write_config("greedy-3.toml", "[sampler]\nplugin = \"best-of-n\"\nn = 1\n[value]\nplugin = \"sequence-logprob\"\n");
  o = genius("decode " + path("greedy-3.toml") + " --iteration 3 --run-dir " + path("nowhere"));
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("no checkpoint"), std::string::npos) << o.err;
}

}  // namespace

namespace {

// [pretrain] init_from: a critic fine-tuned from an existing model; a model of
// another shape is refused with its file, and nothing is left behind.
TEST(CliCritique, PretrainStartsFromAnExistingModelOfTheSameShape) {
  const fs::path dir = fixture();
  auto recipe = [&](const std::string& name, int hidden) {
    std::ofstream(dir / (name + ".toml"))
        << "[run]\nseed = 2\n[data]\ntrain = \"data/train.jsonl\"\neval = \"data/eval.jsonl\"\n"
           "[pretrain]\ntask = \"arith-critique\"\nlevels = [2, 3]\nexamples = 32\nout = \""
        << name << "\"\n"
        << "hidden_size = " << hidden << "\nnum_hidden_layers = 1\nnum_attention_heads = 4\ninit_from = \"actor\"\n"
        << "[model]\nplugin = \"torch-llama\"\n[train]\nlearning_rate = 1e-3\nbatch_size = 16\n[eval]\nenabled = "
           "false\n";
  };
  recipe("tuned", 32);
  Output o = genius("pretrain " + path("tuned.toml"));
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.err.find("starting from the weights of"), std::string::npos) << o.err;
  EXPECT_TRUE(fs::exists(dir / "tuned" / "model.safetensors"));
  recipe("wrong-shape", 48);
  o = genius("pretrain " + path("wrong-shape.toml"));
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("wrong-shape.toml: [pretrain] init_from"), std::string::npos) << o.err;
  EXPECT_FALSE(fs::exists(dir / "wrong-shape"));
  EXPECT_FALSE(fs::exists(dir / "wrong-shape.partial"));
}

}  // namespace
