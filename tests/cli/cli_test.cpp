// End-to-end: the real `genius` binary with the real plugins.
#include <sys/wait.h>
#include <algorithm>

#include <array>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "genius_process.hpp"

namespace {

namespace fs = std::filesystem;

using genius_test::Output;
using genius_test::slurp;

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("genius_cli_test_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

// `genius ARGS` (shell syntax) with `env` prefixed, from `cwd`.
Output genius(const std::string& args, const std::string& env = "", const std::string& cwd = "") {
  return genius_test::run_genius(args, env, cwd);
}

TEST(Cli, VersionAndHelp) {
  Output v = genius("--version");
  EXPECT_EQ(v.exit_code, 0);
  EXPECT_NE(v.out.find("genius 0.3.0"), std::string::npos) << v.out;
  Output h = genius("--help");
  EXPECT_EQ(h.exit_code, 0);
  for (const char* command : {"plugins", "config", "run", "sweep", "loss", "new-plugin", "data", "pretrain"})
    EXPECT_NE(h.out.find(command), std::string::npos);
  EXPECT_EQ(genius("").exit_code, 2);
  Output bad = genius("frobnicate");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("unknown command 'frobnicate'"), std::string::npos);
}

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* command : {"plugins", "config", "run", "sweep", "loss", "new-plugin", "data", "pretrain"}) {
    Output h = genius(std::string(command) + " --help");
    EXPECT_EQ(h.exit_code, 0) << command;
    EXPECT_NE(h.out.find(std::string("Usage: genius ") + command), std::string::npos) << h.out;
  }
}

// The fast half of `genius new-plugin` (tests/sdk/new_plugin_test.sh builds and runs the projects).
TEST(Cli, NewPluginWritesAProjectNamedAfterThePlugin) {
  const fs::path dir = scratch("new_plugin") / "sigmoid";
  Output o = genius("new-plugin --kind loss --name my-sigmoid --out '" + dir.string() + "'");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  for (const char* file :
       {"CMakeLists.txt", "my_sigmoid.cpp", "example.toml", "pairs.jsonl", "README.md", ".gitignore"})
    EXPECT_TRUE(fs::exists(dir / file)) << file;
  const std::string cpp = slurp(dir / "my_sigmoid.cpp"), cmake = slurp(dir / "CMakeLists.txt");
  EXPECT_NE(cpp.find("class MySigmoidLoss final : public genius::Loss"), std::string::npos) << cpp;
  EXPECT_NE(cpp.find("genius::PluginKind::Loss, \"my-sigmoid\""), std::string::npos) << cpp;
  EXPECT_NE(cmake.find("genius_add_plugin(genius_loss_my_sigmoid SOURCES my_sigmoid.cpp)"), std::string::npos) << cmake;
  EXPECT_NE(cmake.find("find_package(GeniusSDK 0.3.0 REQUIRED)"), std::string::npos) << cmake;
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_EQ(slurp(entry.path()).find("@NAME@"), std::string::npos) << entry.path();

  // The directory is no longer empty: refused without --force, rewritten with it.
  Output again = genius("new-plugin --kind value --name my-sigmoid --out '" + dir.string() + "'");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("is not empty"), std::string::npos) << again.err;
  EXPECT_NE(slurp(dir / "my_sigmoid.cpp").find("public genius::Loss"), std::string::npos);  // untouched
  Output forced = genius("new-plugin --kind value --name my-sigmoid --out '" + dir.string() + "' --force");
  ASSERT_EQ(forced.exit_code, 0) << forced.err;
  EXPECT_NE(slurp(dir / "my_sigmoid.cpp").find("class MySigmoidValue final : public genius::ValueEstimator"),
            std::string::npos);
}

TEST(Cli, NewPluginRejectsBadOptionsWithoutWriting) {
  const fs::path dir = scratch("new_plugin_bad") / "out";
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {"--kind loss --name My-Loss", "use lowercase letters, digits and single '-'"},
           {"--kind loss --name my--loss", "use lowercase letters, digits and single '-'"},
           {"--kind loss --name 9x", "starting with a letter"},
           {"--kind filter --name x", "--kind 'filter': must be one of loss, sampler, value, backend"},
       }) {
    Output o = genius("new-plugin " + args + " --out '" + dir.string() + "'");
    EXPECT_EQ(o.exit_code, 2) << args;
    EXPECT_NE(o.err.find(message), std::string::npos) << args << ": " << o.err;
  }
  EXPECT_EQ(genius("new-plugin --kind loss --name x").exit_code, 2);  // no --out
  EXPECT_FALSE(fs::exists(dir));
}

TEST(Cli, UnknownOptionIsAUsageError) {
  Output o = genius("plugins --jsn");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("jsn"), std::string::npos) << o.err;
}

TEST(Cli, PluginsJsonListsTheFiveLossesWithTheirKeys) {
  Output o = genius("plugins --json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const auto plugins = nlohmann::json::parse(o.out);
  std::set<std::string> losses;
  for (const auto& p : plugins) {
    if (p.at("kind") != "loss") continue;
    losses.insert(p.at("name").get<std::string>());
    EXPECT_TRUE(fs::exists(p.at("file").get<std::string>()));
    EXPECT_FALSE(p.at("description").get<std::string>().empty());
    EXPECT_FALSE(p.at("version").get<std::string>().empty());
    for (const auto& key : p.at("keys")) {
      EXPECT_TRUE(key.contains("type") && key.contains("default") && key.contains("doc")) << key.dump();
    }
    if (p.at("name") == "aco") {
      std::set<std::string> keys;
      for (const auto& key : p.at("keys")) keys.insert(key.at("name").get<std::string>());
      EXPECT_EQ(keys, (std::set<std::string>{"beta", "alpha", "calibration", "reference_free", "nll_weight"}));
    }
  }
  EXPECT_EQ(losses, (std::set<std::string>{"aco", "dpo", "ropo", "simpo", "ipo", "sft"}));
}

TEST(Cli, PluginsTextListsKeys) {
  Output o = genius("plugins");
  ASSERT_EQ(o.exit_code, 0);
  EXPECT_NE(o.out.find("loss aco"), std::string::npos);
  EXPECT_NE(o.out.find("label_smoothing"), std::string::npos);
}

TEST(Cli, ConfigCheckAcceptsEveryShippedConfig) {
  // The configs as a user lays them out: configs/ beside examples/ and a
  // data/ made by `genius data arith` (which several of them train on); the
  // paper configs' benchmarks are checked with stand-ins in run_data_formats.
  const fs::path root = scratch("shipped");
  fs::copy(fs::path(GENIUS_SOURCE_DIR) / "configs", root / "configs", fs::copy_options::recursive);
  fs::create_directory_symlink(fs::path(GENIUS_SOURCE_DIR) / "examples", root / "examples");
  ASSERT_EQ(genius("data arith --out '" + (root / "data").string() + "' --train 20 --eval 10").exit_code, 0);
  int checked = 0;
  for (const auto& entry : fs::recursive_directory_iterator(root / "configs")) {
    if (entry.path().extension() != ".toml" || entry.path().filename().string().rfind("paper_", 0) == 0) continue;
    Output o = genius("config check '" + entry.path().string() + "'");
    EXPECT_EQ(o.exit_code, 0) << entry.path() << ":\n" << o.err;
    ++checked;
  }
  EXPECT_GT(checked, 0);
}

TEST(Cli, ConfigCheckRejectsBadConfigWithExitOneAndLocation) {
  const fs::path dir = scratch("check");
  std::ofstream(dir / "bad.toml") << "[run]\nseed = 1\n[loss]\nplugin = \"dpo\"\nbeta = \"high\"\n";
  Output o = genius("config check '" + (dir / "bad.toml").string() + "'");
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.err.find("bad.toml:5"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("loss.beta"), std::string::npos) << o.err;
  Output fixed = genius("config check '" + (dir / "bad.toml").string() + "' --set loss.beta=0.3 --print");
  EXPECT_EQ(fixed.exit_code, 0) << fixed.err;
  EXPECT_NE(fixed.out.find("beta = 0.3"), std::string::npos) << fixed.out;
  EXPECT_EQ(genius("config check").exit_code, 2);
  EXPECT_EQ(genius("config check '" + (dir / "missing.toml").string() + "'").exit_code, 1);
}

TEST(Cli, RunRefusesAnIncompleteConfigBeforeDoingAnything) {
  const fs::path dir = scratch("run");
  std::ofstream(dir / "run.toml") << "[run]\nname = \"x\"\n[loss]\nplugin = \"aco\"\n";
  Output o = genius("run '" + (dir / "run.toml").string() + "' --out '" + (dir / "out").string() + "'");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("this command needs a [model] section"), std::string::npos) << o.err;
  EXPECT_FALSE(fs::exists(dir / "out")) << "nothing is written for an invalid config";
  Output typo = genius("run '" + (dir / "run.toml").string() + "' --set loss.betta=1");
  EXPECT_EQ(typo.exit_code, 2);
  EXPECT_NE(typo.err.find("did you mean 'beta'"), std::string::npos) << typo.err;
}

TEST(Cli, LossEvalComputesLossMetricsAndGradients) {
  const fs::path dir = scratch("loss");
  std::ofstream(dir / "pairs.jsonl")
      << R"({"policy_chosen_logps": -10, "policy_rejected_logps": -12, "reference_chosen_logps": -11, )"
      << R"("reference_rejected_logps": -11, "chosen_weight": 0.5, "rejected_weight": 0.1})"
      << "\n\n";
  Output o = genius("loss eval --plugin aco --input '" + (dir / "pairs.jsonl").string() + "' --json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const auto r = nlohmann::json::parse(o.out);
  // Worked by hand: r_w = 1, r_l = -1, A_w - A_l = 0.4. The paper's factor is 1
  // there (A_l <= A_w: DPO), the released code's e^0.4.
  for (const auto& [calibration, f] :
       {std::pair<std::string, double>{"paper", 1.0}, {"released-code", std::exp(0.4)}}) {
    Output c = genius("loss eval --plugin aco --set loss.calibration=" + calibration + " --input '" +
                      (dir / "pairs.jsonl").string() + "' --json");
    ASSERT_EQ(c.exit_code, 0) << c.err;
    const auto rc = nlohmann::json::parse(c.out);
    const double z = 0.1 * (1 + f);
    EXPECT_NEAR(rc.at("loss").get<double>(), std::log1p(std::exp(-z)), 1e-12) << calibration;
    EXPECT_NEAR(rc.at("gradients").at("policy_rejected_logps")[0].get<double>(), 0.1 * f / (1 + std::exp(z)), 1e-12)
        << calibration;
    EXPECT_NEAR(rc.at("metrics").at("aco/factor").get<double>(), f, 1e-12) << calibration;
  }
  EXPECT_NEAR(r.at("loss").get<double>(), std::log1p(std::exp(-0.2)), 1e-12) << "the default is the paper's form";
  EXPECT_NEAR(r.at("metrics").at("rewards/margins").get<double>(), 0.2, 1e-12);
  EXPECT_EQ(r.at("pairs"), 1);

  Output with_key =
      genius("loss eval --plugin dpo --set loss.beta=1 --input '" + (dir / "pairs.jsonl").string() + "' --json");
  ASSERT_EQ(with_key.exit_code, 0) << with_key.err;
  EXPECT_NEAR(nlohmann::json::parse(with_key.out).at("loss").get<double>(), std::log1p(std::exp(-2.0)), 1e-12);
}

TEST(Cli, LossEvalNamesTheBadLine) {
  const fs::path dir = scratch("loss_bad");
  std::ofstream(dir / "pairs.jsonl") << R"({"policy_chosen_logps": -1, "policy_rejected_logps": -2})"
                                     << "\n"
                                     << "{not json\n";
  Output o = genius("loss eval --plugin simpo --input '" + (dir / "pairs.jsonl").string() + "'");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("pairs.jsonl:2"), std::string::npos) << o.err;
  // DPO needs the reference log-probs, which line 1 lacks.
  std::ofstream(dir / "one.jsonl") << R"({"policy_chosen_logps": -1, "policy_rejected_logps": -2})"
                                   << "\n";
  Output missing = genius("loss eval --plugin dpo --input '" + (dir / "one.jsonl").string() + "'");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("one.jsonl:1: missing field 'reference_chosen_logps'"), std::string::npos) << missing.err;
}

TEST(Cli, PluginPathEnvironmentAddsPluginsAndReportsBadOnes) {
  const std::string fixtures = GENIUS_FIXTURE_DIR;
  Output good = genius("plugins --json", "GENIUS_PLUGIN_PATH=" + fixtures + "/fixture_good");
  ASSERT_EQ(good.exit_code, 0) << good.err;
  EXPECT_NE(good.out.find("\"fixture\""), std::string::npos);

  Output bad = genius("plugins", "GENIUS_PLUGIN_PATH=" + fixtures + "/fixture_bad_abi:" + fixtures + "/fixture_good");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("libfixture_bad_abi.so"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("ABI version 99"), std::string::npos) << bad.err;
  EXPECT_NE(bad.out.find("loss fixture"), std::string::npos) << "good plugins are still listed";

  const fs::path dir = scratch("dup");
  std::ofstream(dir / "run.toml") << "[loss]\nplugin = \"aco\"\n";
  Output dup = genius("config check '" + (dir / "run.toml").string() + "'",
                      "GENIUS_PLUGIN_PATH=" + fixtures + "/fixture_duplicate_aco");
  EXPECT_EQ(dup.exit_code, 1);
  EXPECT_NE(dup.err.find("libgenius_loss_aco.so"), std::string::npos) << dup.err;
  EXPECT_NE(dup.err.find("libfixture_duplicate_aco.so"), std::string::npos) << dup.err;
}

TEST(Cli, ConfigPluginPathIsRelativeToTheConfigFile) {
  const fs::path dir = scratch("plugin_path");
  fs::copy_file(fs::path(GENIUS_FIXTURE_DIR) / "fixture_good" / "libfixture_good.so", dir / "libmine.so");
  fs::create_directories(dir / "cfg");
  std::ofstream(dir / "cfg" / "run.toml") << "[run]\nplugin_path = [\"..\"]\n[loss]\nplugin = \"fixture\"\nscale = 2\n";
  EXPECT_EQ(genius("config check '" + (dir / "cfg" / "run.toml").string() + "'").exit_code, 0);
  // Not found from the working directory alone: the cwd is never searched implicitly.
  std::ofstream(dir / "cfg" / "nopath.toml") << "[loss]\nplugin = \"fixture\"\n";
  Output o = genius("config check cfg/nopath.toml", "", dir.string());
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_NE(o.err.find("no loss plugin named 'fixture'"), std::string::npos) << o.err;
}

}  // namespace

namespace {

TEST(CliModel, InitGenerateTokenizeLogprobs) {
  const fs::path dir = scratch("model");
  Output init = genius("init-model --arch qwen2 --hidden 32 --layers 1 --heads 4 --kv-heads 2 --seed 1 --out '" +
                       (dir / "m").string() + "'");
  ASSERT_EQ(init.exit_code, 0) << init.err;
  EXPECT_NE(init.out.find("qwen2"), std::string::npos);
  EXPECT_EQ(
      genius("init-model --arch llama --hidden 32 --layers 1 --heads 4 --out '" + (dir / "m").string() + "'").exit_code,
      2)
      << "an existing model is never overwritten";

  const std::string model = " --model '" + (dir / "m").string() + "'";
  Output tok = genius("tokenize" + model + " --text 'ab' --json");
  ASSERT_EQ(tok.exit_code, 0) << tok.err;
  EXPECT_EQ(nlohmann::json::parse(tok.out).at("ids"), nlohmann::json::parse("[97, 98]"));  // byte tokens

  Output gen = genius("generate" + model + " --prompt 'x' --n 3 --temperature 1 --max-new-tokens 5 --seed 7 --json");
  ASSERT_EQ(gen.exit_code, 0) << gen.err;
  const auto samples = nlohmann::json::parse(gen.out).at("samples");
  ASSERT_EQ(samples.size(), 3u);
  // Score the first sample's tokens with `logprobs`: the same log-prob.
  const auto& first = samples[0];
  Output again = genius("generate" + model + " --prompt 'x' --n 3 --temperature 1 --max-new-tokens 5 --seed 7 --json");
  EXPECT_EQ(again.out, gen.out) << "same seed, same samples";
  if (first.at("finish_reason") == "length" && first.at("text").get<std::string>().find('\'') == std::string::npos &&
      first.at("text").get<std::string>().size() == 5) {
    Output lp =
        genius("logprobs" + model + " --prompt 'x' --completion '" + first.at("text").get<std::string>() + "' --json");
    ASSERT_EQ(lp.exit_code, 0) << lp.err;
    EXPECT_NEAR(nlohmann::json::parse(lp.out).at("sum").get<double>(), first.at("cumulative_logprob").get<double>(),
                1e-3);
  }
  Output bad = genius("generate" + model + " --prompt 'x' --set model.dtyp=bfloat16");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("did you mean 'dtype'"), std::string::npos) << bad.err;
  EXPECT_EQ(genius("generate --prompt x").exit_code, 2);
  Output missing = genius("tokenize --model /nonexistent --text x");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.err.find("/nonexistent"), std::string::npos) << missing.err;
}

TEST(CliModel, InitModelTakesTheBackendsModelKeysAsFlags) {
  // The flags come from torch-llama's manifest (model_keys), listed by `genius plugins`.
  Output plugins = genius("plugins --json");
  ASSERT_EQ(plugins.exit_code, 0) << plugins.err;
  const nlohmann::json all = nlohmann::json::parse(plugins.out);
  const nlohmann::json& list = all.is_object() ? all.at("plugins") : all;
  const auto backend = std::find_if(list.begin(), list.end(), [](const nlohmann::json& p) {
    return p.at("kind") == "backend" && p.at("name") == "torch-llama";
  });
  ASSERT_NE(backend, list.end());
  std::map<std::string, std::string> flags;
  for (const auto& k : backend->at("model_keys")) flags[k.at("name")] = k.value("flag", "");
  EXPECT_EQ(flags.at("hidden_size"), "hidden");
  EXPECT_EQ(flags.at("tie_word_embeddings"), "untied");
  Output help = genius("init-model --help");
  EXPECT_NE(help.out.find("--hidden"), std::string::npos) << help.out;
  EXPECT_NE(help.out.find("--kv-heads"), std::string::npos) << help.out;

  // A bad value names the key; an unreadable tokenizer leaves no directory behind.
  const fs::path dir = scratch("init_flags");
  Output bad = genius("init-model --hidden abc --out '" + (dir / "a").string() + "'");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("hidden_size"), std::string::npos) << bad.err;
  Output missing = genius("init-model --vocab /nonexistent/tokenizer.json --out '" + (dir / "b").string() + "'");
  EXPECT_EQ(missing.exit_code, 2);  // bad input
  EXPECT_NE(missing.err.find("/nonexistent/tokenizer.json"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(dir / "b"));
  EXPECT_FALSE(fs::exists(dir / "b.partial"));

  // --untied flips the default; --set names a key directly.
  Output made = genius("init-model --hidden 32 --layers 1 --heads 2 --untied --set rope_theta=500000 --out '" +
                       (dir / "c").string() + "'");
  ASSERT_EQ(made.exit_code, 0) << made.err;
  const nlohmann::json config = nlohmann::json::parse(std::ifstream(dir / "c" / "config.json"));
  EXPECT_EQ(config.at("tie_word_embeddings"), false);
  EXPECT_EQ(config.at("rope_theta"), 500000.0);
  EXPECT_EQ(config.at("hidden_size"), 32);
}

TEST(CliModel, BenchPrintsATable) {
  const fs::path dir = scratch("bench");
  ASSERT_EQ(genius("init-model --hidden 32 --layers 1 --heads 2 --out '" + (dir / "m").string() + "'").exit_code, 0);
  Output b =
      genius("bench generate --model '" + (dir / "m").string() + "' --batch 1 4 --prompt-tokens 8 --new-tokens 4");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.out.find("decode tok/s"), std::string::npos);
  EXPECT_NE(b.out.find("% of peak"), std::string::npos);
}

}  // namespace

namespace {

TEST(CliRun, APluginThatFailsToStartLeavesNoRunDirectory) {
  const fs::path dir = scratch("run_bad_model");
  std::ofstream(dir / "run.toml") << "[model]\nplugin = \"torch-llama\"\npath = \"no-such-model\"\n"
                                     "[sampler]\nplugin = \"foresight\"\n[value]\nplugin = \"foresight-logprob\"\n"
                                     "[loss]\nplugin = \"aco\"\n";
  Output o = genius("run '" + (dir / "run.toml").string() + "' --out '" + (dir / "out").string() + "'");
  EXPECT_EQ(o.exit_code, 2);  // bad input
  EXPECT_NE(o.err.find("no-such-model"), std::string::npos) << o.err;
  EXPECT_FALSE(fs::exists(dir / "out")) << "the run directory is written only once every plugin started";
}

}  // namespace

// ------------------------------------------------ the embedded task (docs/tasks.md)
namespace {

std::vector<nlohmann::json> read_lines(const fs::path& file) {
  std::vector<nlohmann::json> rows;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(nlohmann::json::parse(line));
  return rows;
}

TEST(CliData, WritesUnlabeledTrainAndDisjointLabeledEvalDeterministically) {
  const fs::path dir = scratch("data");
  Output o = genius("data arith --train 300 --eval 120 --seed 5 --levels 2-3 --out '" + (dir / "a").string() + "'");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  ASSERT_EQ(
      genius("data arith --train 300 --eval 120 --seed 5 --levels 2-3 --out '" + (dir / "b").string() + "'").exit_code,
      0);
  ASSERT_EQ(
      genius("data arith --train 300 --eval 120 --seed 6 --levels 2-3 --out '" + (dir / "c").string() + "'").exit_code,
      0);
  const auto train = read_lines(dir / "a" / "train.jsonl"), eval = read_lines(dir / "a" / "eval.jsonl");
  ASSERT_EQ(train.size(), 300u);
  ASSERT_EQ(eval.size(), 120u);
  std::set<std::string> train_prompts, eval_prompts;
  for (const auto& r : train) {
    EXPECT_FALSE(r.contains("answer")) << r;
    EXPECT_FALSE(r.contains("solution")) << r;
    train_prompts.insert(r["instruction"].get<std::string>());
  }
  for (const auto& r : eval) {
    ASSERT_TRUE(r.contains("answer")) << r;
    eval_prompts.insert(r["instruction"].get<std::string>());
    const int level = r["level"].get<int>();
    EXPECT_TRUE(level == 2 || level == 3) << r;
  }
  EXPECT_EQ(train_prompts.size(), 300u) << "training queries repeat";
  EXPECT_EQ(eval_prompts.size(), 120u) << "eval items repeat";
  for (const auto& p : eval_prompts) EXPECT_EQ(train_prompts.count(p), 0u) << p << " is in both sets";
  EXPECT_EQ(slurp(dir / "a" / "train.jsonl"), slurp(dir / "b" / "train.jsonl"));
  EXPECT_EQ(slurp(dir / "a" / "eval.jsonl"), slurp(dir / "b" / "eval.jsonl"));
  EXPECT_NE(slurp(dir / "a" / "eval.jsonl"), slurp(dir / "c" / "eval.jsonl")) << "the seed changes nothing";
}

TEST(CliData, BadTaskNamesAndImpossibleRequestsAreClearErrors) {
  const fs::path dir = scratch("data_bad");
  Output unknown = genius("data arithmetic --out '" + dir.string() + "'");
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown task 'arithmetic'"), std::string::npos) << unknown.err;
  EXPECT_NE(unknown.err.find("available tasks: arith"), std::string::npos) << unknown.err;
  Output levels = genius("data arith --levels 3-2 --out '" + dir.string() + "'");
  EXPECT_EQ(levels.exit_code, 2);
  EXPECT_NE(levels.err.find("level"), std::string::npos) << levels.err;
  // One operation on single digits: only 9 * 18 - (forced additions) distinct problems.
  Output too_many = genius("data arith --levels 1 --eval 500 --train 10 --out '" + dir.string() + "'");
  EXPECT_EQ(too_many.exit_code, 1);
  EXPECT_NE(too_many.err.find("distinct"), std::string::npos) << too_many.err;
  EXPECT_FALSE(fs::exists(dir / "eval.jsonl")) << "nothing is written when the request fails";
}

TEST(CliPretrain, TrainsATinyBaseModelAndMovesItIntoPlace) {
  const fs::path dir = scratch("pretrain");
  ASSERT_EQ(
      genius("data arith --train 40 --eval 12 --seed 3 --levels 1-2 --out '" + (dir / "data").string() + "'").exit_code,
      0);
  std::ofstream(dir / "base.toml")
      << "[run]\nseed = 2\n[data]\ntrain = \"data/train.jsonl\"\neval = \"data/eval.jsonl\"\n"
         "[pretrain]\nlevels = [1, 2]\nexamples = 96\nout = \"model\"\nhidden_size = 32\n"
         "num_hidden_layers = 1\nnum_attention_heads = 2\n"
         "[model]\nplugin = \"torch-llama\"\n"
         "[train]\nlearning_rate = 3e-3\nbatch_size = 16\n"
         "[eval]\nmax_new_tokens = 24\nsamples = 2\n";
  Output o = genius("pretrain '" + (dir / "base.toml").string() + "'");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_NE(o.out.find("held-out (12 items)"), std::string::npos) << o.out;
  for (const char* file :
       {"config.json", "model.safetensors", "tokenizer.json", "pretrain.json", "pretrain_eval.jsonl"})
    EXPECT_TRUE(fs::exists(dir / "model" / file)) << file;
  EXPECT_FALSE(fs::exists(dir / "model.partial"));
  const auto record = nlohmann::json::parse(slurp(dir / "model" / "pretrain.json"));
  EXPECT_EQ(record["steps"].get<int>(), 6);  // 96 examples / batch 16
  EXPECT_LT(record["last_loss"].get<double>(), record["first_loss"].get<double>());
  // Level 1-2 problems are few: some drawn problems are the data files' and were skipped.
  EXPECT_GT(record["skipped_data_prompts"].get<int>(), 0);
  EXPECT_EQ(record["eval"]["items"].get<int>(), 12);
  // The model is a real Hugging Face directory the other commands can use.
  Output g = genius("generate --model '" + (dir / "model").string() + "' --prompt 1+2 --max-new-tokens 8");
  EXPECT_EQ(g.exit_code, 0) << g.err;
  // A second pretrain does not overwrite it without --force.
  Output again = genius("pretrain '" + (dir / "base.toml").string() + "'");
  EXPECT_EQ(again.exit_code, 2);
  EXPECT_NE(again.err.find("--force"), std::string::npos) << again.err;
}

TEST(CliQuickstart, AMissingBaseModelSaysHowToMakeIt) {
  const fs::path dir = scratch("quickstart_missing");
  // The quickstart's own config, pointed at a model directory that is not there.
  Output o = genius("run '" + std::string(GENIUS_SOURCE_DIR) + "/configs/quickstart.toml' --set model.path=" +
                    "'../examples/arith/no-model' --out '" + (dir / "run").string() + "'");
  EXPECT_EQ(o.exit_code, 2);  // a model directory that is not there: bad input
  EXPECT_NE(o.err.find("no-model"), std::string::npos) << o.err;
  // ... and the shipped config names the recipe of the model it expects.
  std::ofstream(dir / "base.toml") << "[pretrain]\nout = \"made-by-pretrain\"\n";
  std::ofstream(dir / "run.toml") << "[model]\nplugin = \"torch-llama\"\npath = \"made-by-pretrain\"\n"
                                     "[sampler]\nplugin = \"foresight\"\n[value]\nplugin = \"foresight-logprob\"\n"
                                     "[loss]\nplugin = \"aco\"\n";
  Output hint = genius("run '" + (dir / "run.toml").string() + "' --out '" + (dir / "out").string() + "'");
  EXPECT_EQ(hint.exit_code, 2);
  EXPECT_NE(hint.err.find("make it with `genius pretrain " + (dir / "base.toml").string() + "`"), std::string::npos)
      << hint.err;
}

TEST(CliModel, ATokenizerLargerThanTheConfigVocabularyIsRefusedWithBothNumbers) {
  const fs::path dir = scratch("vocab_mismatch");
  ASSERT_EQ(genius("init-model --hidden 32 --layers 1 --heads 2 --out '" + (dir / "m").string() + "'").exit_code, 0);
  auto config = nlohmann::json::parse(slurp(dir / "m" / "config.json"));
  const int tokenizer_size = config["vocab_size"].get<int>();  // 259: 256 bytes + 3 specials
  config["vocab_size"] = 200;
  std::ofstream(dir / "m" / "config.json") << config.dump(2);
  Output o = genius("tokenize --model '" + (dir / "m").string() + "' --text hello");
  EXPECT_NE(o.exit_code, 0);
  EXPECT_NE(o.err.find(std::to_string(tokenizer_size)), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("200"), std::string::npos) << o.err;
}

}  // namespace

// ------------------------------------------ the self-reward audit (docs/audit.md)
namespace {

// The shipped base model on a few arith queries: fast enough for a test.
void write_audit_run(const fs::path& dir, const std::string& extra = "") {
  const std::string src = GENIUS_SOURCE_DIR;
  std::ofstream(dir / "run.toml") << "[run]\nseed = 3\nlog_level = \"warn\"\n"
                                     "[data]\ntrain = \"" +
                                         src +
                                         "/examples/arith/data/train.jsonl\"\n"
                                         "eval = \"" +
                                         src +
                                         "/examples/arith/data/eval.jsonl\"\n"
                                         "max_train_queries = 6\nmax_eval_queries = 10\n"
                                         "[model]\nplugin = \"torch-llama\"\npath = \"" +
                                         src +
                                         "/examples/arith/base-model\"\n"
                                         "[sampler]\nplugin = \"foresight\"\nnum_rollout = 3\nnum_foresight = 4\n"
                                         "max_step_tokens = 16\nmax_rollout_tokens = 64\n"
                                         "[value]\nplugin = \"foresight-logprob\"\nscope = \"response\"\n"
                                         "[loss]\nplugin = \"aco\"\n[train]\nlearning_rate = 1e-5\nbatch_size = 8\n"
                                         "[eval]\nmax_new_tokens = 64\n" +
                                         extra;
}

TEST(CliAudit, ARunAuditsEachIterationAndGeniusAuditRunsItAlone) {
  const fs::path dir = scratch("audit");
  write_audit_run(dir, "[audit]\nitems = 12\n");
  Output run = genius("run '" + (dir / "run.toml").string() + "' --out '" + (dir / "out").string() + "'");
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const auto summary = nlohmann::json::parse(std::ifstream(dir / "out" / "summary.json"));
  ASSERT_EQ(summary["audit"].size(), 1u);
  const auto& a = summary["audit"][0];
  EXPECT_EQ(a["iteration"], 1);
  EXPECT_EQ(a["items"], 12);
  // The counts agree with the files the audit wrote.
  const auto items = read_lines(dir / "out" / "iter-1" / "audit" / "items.jsonl");
  const auto pairs = read_lines(dir / "out" / "iter-1" / "audit" / "pairs.jsonl");
  ASSERT_EQ(items.size(), 12u);
  EXPECT_EQ(a["audit/pairs"].get<std::size_t>(), pairs.size());
  std::size_t greedy_right = 0, one_sided = 0, chosen_wins = 0;
  for (const auto& item : items) {
    greedy_right += item["greedy_right"].get<bool>() ? 1 : 0;
    for (const auto& p : item["pairs"])
      if (p["chosen_right"] != p["rejected_right"]) ++one_sided, chosen_wins += p["chosen_right"].get<bool>() ? 1 : 0;
  }
  EXPECT_DOUBLE_EQ(a["audit/greedy_accuracy"].get<double>(), greedy_right / 12.0);
  EXPECT_EQ(a["audit/one_sided_pairs"].get<std::size_t>(), one_sided);
  if (one_sided > 0) {
    EXPECT_DOUBLE_EQ(a["audit/pair_precision"].get<double>(), double(chosen_wins) / one_sided);
  }
  for (const char* key : {"audit/value_auc", "audit/same_answer_pairs", "audit/tree_has_right"}) {
    ASSERT_TRUE(a[key].is_number()) << key << ": 12 items of a 63% model give right and wrong trajectories";
    EXPECT_TRUE(a[key].get<double>() >= 0 && a[key].get<double>() <= 1) << key;
  }
  // metrics.jsonl and report.html carry it too.
  bool audit_line = false;
  for (const auto& line : read_lines(dir / "out" / "metrics.jsonl")) audit_line = audit_line || line["kind"] == "audit";
  EXPECT_TRUE(audit_line);
  std::ifstream report(dir / "out" / "report.html");
  const std::string html{std::istreambuf_iterator<char>(report), std::istreambuf_iterator<char>()};
  EXPECT_NE(html.find("Self-reward audit"), std::string::npos);

  const std::string status_before = nlohmann::json::parse(std::ifstream(dir / "out" / "summary.json"))["status"];
  // Alone, on the trained policy, with another probe size: the run's config is unchanged.
  Output alone = genius("audit '" + (dir / "run.toml").string() + "' --out '" + (dir / "out").string() +
                        "' --set audit.items=12 --iteration 2 --items 5");
  ASSERT_EQ(alone.exit_code, 0) << alone.err;
  EXPECT_NE(alone.out.find("pair_precision"), std::string::npos) << alone.out;
  EXPECT_NE(alone.out.find("greedy wrong"), std::string::npos) << alone.out;
  EXPECT_EQ(read_lines(dir / "out" / "iter-2" / "audit" / "items.jsonl").size(), 5u);
  const auto after = nlohmann::json::parse(std::ifstream(dir / "out" / "summary.json"));
  EXPECT_EQ(after["status"], status_before) << "auditing a finished run leaves it finished";
  EXPECT_EQ(after["audit"].size(), 2u);
  Output bad_items =
      genius("audit '" + (dir / "run.toml").string() + "' --out '" + (dir / "out").string() + "' --items -1");
  EXPECT_EQ(bad_items.exit_code, 2) << bad_items.err;
  // An audit without a probe file is refused before anything runs.
  Output no_probe = genius("run '" + (dir / "run.toml").string() + "' --out '" + (dir / "no_probe").string() +
                           "' --set audit.items=5 --set data.eval=\"\"");
  EXPECT_EQ(no_probe.exit_code, 2);
  EXPECT_NE(no_probe.err.find("[audit] items = 5 needs labeled probe items"), std::string::npos) << no_probe.err;
  EXPECT_FALSE(fs::exists(dir / "no_probe" / "iter-1" / "records.jsonl")) << "refused before the exploration";
  // A run without [audit] items has no audit.
  const fs::path bare = scratch("audit_off");
  write_audit_run(bare);
  Output off = genius("explore '" + (bare / "run.toml").string() + "' --out '" + (bare / "out").string() + "'");
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_FALSE(fs::exists(bare / "out" / "iter-1" / "audit"));
}

TEST(CliData, MaxTrainQueriesTakesASeededRandomSubsetOrTheFirstOnes) {
  const fs::path dir = scratch("subset");
  write_audit_run(dir);
  auto ids = [&](const std::string& out, const std::string& extra) {
    Output o = genius("explore '" + (dir / "run.toml").string() + "' --out '" + (dir / out).string() + "' " + extra);
    EXPECT_EQ(o.exit_code, 0) << o.err;
    std::vector<std::string> v;
    for (const auto& r : read_lines(dir / out / "iter-1" / "records.jsonl")) v.push_back(r["query_id"]);
    return v;
  };
  const auto random = ids("random", "");
  const auto again = ids("again", "");
  const auto first = ids("first", "--set data.train_subset=\"first\"");
  const auto other_seed = ids("seed4", "--set run.seed=4");
  ASSERT_EQ(random.size(), 6u);
  EXPECT_EQ(random, again) << "seeded";
  EXPECT_NE(random, other_seed) << "the run seed picks the subset";
  EXPECT_EQ(first, (std::vector<std::string>{"arith-train-000000", "arith-train-000001", "arith-train-000002",
                                             "arith-train-000003", "arith-train-000004", "arith-train-000005"}));
  EXPECT_NE(random, first);
  EXPECT_TRUE(std::is_sorted(random.begin(), random.end())) << "kept in the file's order";
}

}  // namespace
