// Config loading and validation: bad configs (table-driven), overrides,
// defaults, path resolution and the resolved-config round trip.
#include "config/config.hpp"

#include <fstream>
#include <set>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "config/config_schema.hpp"
#include "plugins/plugin_registry.hpp"
#include "test_support.hpp"

namespace genius::core {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

const core::PluginRegistry& registry() {
  return test::builtin_registry();
}

ResolvedConfig resolve(const std::string& text, const std::vector<std::string>& overrides = {},
                       const std::string& file = "/configs/run.toml") {
  return validate(RawConfig::parse(text, file, overrides), registry());
}

struct BadConfig {
  const char* name;
  const char* toml;
  std::vector<std::string> overrides;
  std::vector<std::string> expected;  ///< substrings of the error message
};

void PrintTo(const BadConfig& c, std::ostream* os) {
  *os << c.name;
}

class BadConfigTest : public ::testing::TestWithParam<BadConfig> {};

TEST_P(BadConfigTest, ErrorNamesTheKeyAndWhere) {
  const BadConfig& c = GetParam();
  try {
    resolve(c.toml, c.overrides);
    FAIL() << "config was accepted:\n" << c.toml;
  } catch (const ConfigValidationError& e) {
    ASSERT_FALSE(e.diagnostics().empty());
    for (const auto& expected : c.expected) EXPECT_THAT(e.what(), HasSubstr(expected)) << c.name;
  }
}

const BadConfig kBadConfigs[] = {
    {"typo_in_plugin_key",
     "[loss]\nplugin = \"dpo\"\nbetta = 0.1\n",
     {},
     {"/configs/run.toml:3", "loss.betta", "unknown key 'betta'", "did you mean 'beta'?"}},
    {"typo_in_core_key",
     "[train]\nlearning_rat = 1e-5\n",
     {},
     {"run.toml:2", "train.learning_rat", "did you mean 'learning_rate'?"}},
    {"unknown_section",
     "[trian]\nepochs = 1\n",
     {},
     {"run.toml:1", "unknown section [trian]", "did you mean [train]?"}},
    {"key_outside_sections", "seed = 1\n[run]\n", {}, {"run.toml:1", "seed", "key outside of any section"}},
    {"string_for_float",
     "[train]\nlearning_rate = \"fast\"\n",
     {},
     {"run.toml:2", "train.learning_rate", "expected a float, got a string"}},
    {"float_for_int", "[train]\n\nepochs = 1.5\n", {}, {"run.toml:3", "train.epochs", "expected an int, got a float"}},
    {"string_for_bool", "[eval]\ngreedy = \"yes\"\n", {}, {"run.toml:2", "eval.greedy", "expected a bool"}},
    {"int_for_bool",
     "[loss]\nplugin = \"dpo\"\nreference_free = 1\n",
     {},
     {"run.toml:3", "loss.reference_free", "expected a bool, got a int"}},
    {"ratio_above_one",
     "[train]\nwarmup_ratio = 1.5\n",
     {},
     {"run.toml:2", "train.warmup_ratio", "out of range", "[0, 1]"}},
    {"negative_learning_rate", "[train]\nlearning_rate = -1e-5\n", {}, {"train.learning_rate", "> 0"}},
    {"zero_beta_exclusive", "[loss]\nplugin = \"dpo\"\nbeta = 0.0\n", {}, {"run.toml:3", "loss.beta", "> 0"}},
    {"label_smoothing_half_open",
     "[loss]\nplugin = \"dpo\"\nlabel_smoothing = 0.5\n",
     {},
     {"loss.label_smoothing", "[0, 0.5)"}},
    {"choice_typo",
     "[train]\nlr_scheduler = \"cosin\"\n",
     {},
     {"run.toml:2", "train.lr_scheduler", "'cosin' is not one of", "did you mean 'cosine'?"}},
    {"log_level_choice", "[run]\nlog_level = \"verbose\"\n", {}, {"run.log_level", "not one of: trace, debug"}},
    {"missing_plugin_key", "[loss]\nbeta = 0.1\n", {}, {"run.toml:1", "loss", "missing key 'plugin'", "aco"}},
    {"unknown_plugin",
     "[loss]\nplugin = \"dpoo\"\n",
     {},
     {"run.toml:2", "loss.plugin", "no loss plugin named 'dpoo'", "did you mean 'dpo'?"}},
    {"plugin_not_a_string", "[loss]\nplugin = 3\n", {}, {"run.toml:2", "loss.plugin", "expected a string"}},
    {"plugin_of_other_kind", "[model]\nplugin = \"aco\"\n", {}, {"model.plugin", "no backend plugin named 'aco'"}},
    {"section_not_a_table", "run = 3\n", {}, {"run.toml:1", "run", "must be a section"}},
    {"list_element_type",
     "[run]\nplugin_path = [\"a\", 3]\n",
     {},
     {"run.toml:2", "run.plugin_path", "element 1", "expected a string"}},
    {"list_expected",
     "[run]\nplugin_path = \"dir\"\n",
     {},
     {"run.plugin_path", "expected a string list, got a string"}},
    {"nan_float", "[train]\nlearning_rate = nan\n", {}, {"train.learning_rate", "finite"}},
    {"toml_syntax", "[train\nepochs = 1\n", {}, {"run.toml:1", "invalid TOML"}},
    {"toml_duplicate_key", "[train]\nepochs = 1\nepochs = 2\n", {}, {"run.toml:3", "invalid TOML"}},
    {"nested_table_in_section",
     "[loss]\nplugin = \"dpo\"\n[loss.extra]\nx = 1\n",
     {},
     {"loss.extra", "unknown key 'extra'"}},
    {"set_without_equals", "[run]\n", {"loss.beta"}, {"--set loss.beta", "expected section.key=value"}},
    {"set_without_section", "[run]\n", {"beta=0.2"}, {"--set beta=0.2", "expected section.key=value"}},
    {"set_nested_key", "[run]\n", {"loss.a.b=1"}, {"--set loss.a.b=1", "expected section.key=value"}},
    {"set_unknown_key", "[train]\n", {"train.epoch=2"}, {"--set train.epoch=2", "did you mean 'epochs'?"}},
    {"set_wrong_type", "[train]\n", {"train.epochs=two"}, {"--set train.epochs=two", "expected an int, got a string"}},
    {"set_unknown_section", "[train]\n", {"trian.epochs=2"}, {"--set trian.epochs=2", "did you mean [train]?"}},
    {"set_out_of_range", "[loss]\nplugin = \"dpo\"\n", {"loss.beta=-1"}, {"--set loss.beta=-1", "> 0"}},
    {"set_unknown_plugin",
     "[loss]\nplugin = \"dpo\"\n",
     {"loss.plugin=simpoo"},
     {"--set loss.plugin=simpoo", "did you mean 'simpo'?"}},
    {"set_on_non_table", "run = 1\n", {"run.seed=2"}, {"--set run.seed=2", "is not a section"}},
    // [[eval.sets]]: every entry checked like a section, located by its own line.
    {"eval_sets_not_tables",
     "[eval]\nsets = [\"gsm8k.jsonl\"]\n",
     {},
     {"run.toml:2", "eval.sets", "expected an array of tables", "[[eval.sets]]", "array of values"}},
    {"eval_sets_a_string", "[eval]\nsets = \"x\"\n", {}, {"run.toml:2", "eval.sets", "got a string"}},
    {"eval_sets_unknown_key",
     "[[eval.sets]]\nname = \"a\"\nfile = \"a.jsonl\"\n\n[[eval.sets]]\nname = \"b\"\nfile = \"b.jsonl\"\nshot = 2\n",
     {},
     {"run.toml:8", "eval.sets[1].shot", "unknown key 'shot'", "did you mean 'shots'?"}},
    {"eval_sets_missing_file",
     "[eval]\ngreedy = true\n\n[[eval.sets]]\nname = \"a\"\n",
     {},
     {"run.toml:4", "eval.sets[0]", "missing key 'file'", "needs name, file"}},
    {"eval_sets_wrong_type",
     "[[eval.sets]]\nname = \"a\"\nfile = \"a.jsonl\"\nshots = \"4\"\n",
     {},
     {"run.toml:4", "eval.sets[0].shots", "expected an int, got a string"}},
    {"eval_sets_negative_shots",
     "[[eval.sets]]\nname = \"a\"\nfile = \"a.jsonl\"\nshots = -1\n",
     {},
     {"eval.sets[0].shots", "out of range"}},
    {"eval_sets_unknown_checker",
     "[[eval.sets]]\nname = \"a\"\nfile = \"a.jsonl\"\nchecker = \"maths\"\n",
     {},
     {"run.toml:4", "eval.sets[0].checker", "did you mean 'math'?"}},
    {"eval_sets_duplicate_name",
     "[[eval.sets]]\nname = \"a\"\nfile = \"a.jsonl\"\n[[eval.sets]]\nname = \"a\"\nfile = \"b.jsonl\"\n",
     {},
     {"run.toml:4", "eval.sets[1].name", "a second entry named 'a'"}},
    {"eval_sets_bad_name",
     "[[eval.sets]]\nname = \"../x\"\nfile = \"a.jsonl\"\n",
     {},
     {"eval.sets[0].name", "'../x' is not a valid name"}},
    {"eval_sets_reserved_name",
     "[[eval.sets]]\nname = \"average\"\nfile = \"a.jsonl\"\n",
     {},
     {"eval.sets[0].name", "'average' is reserved"}},
    {"eval_sets_by_set",
     "[eval]\n",
     {"eval.sets=[{name = \"a\", file = \"a.jsonl\", shots = 1.5}]"},
     {"--set eval.sets=", "eval.sets[0].shots", "expected an int, got a float"}},
    // Sizes: lengths of strings and lists, ranges with an upper end.
    {"empty_step_delimiter",
     "[sampler]\nplugin = \"foresight\"\nstep_delimiter = \"\"\n",
     {},
     {"run.toml:3", "sampler.step_delimiter", "must not be empty"}},
    {"three_levels",
     "[pretrain]\nlevels = [1, 2, 3]\n",
     {},
     {"run.toml:2", "pretrain.levels", "expected 0 to 2 elements, got 3"}},
    {"huge_batch", "[train]\nbatch_size = 3000000000\n", {}, {"train.batch_size", "out of range", "1048576"}},
    {"huge_beam",
     "[sampler]\nplugin = \"foresight\"\nstep_beam_size = 100000\n",
     {},
     {"sampler.step_beam_size", "out of range"}},
    {"eval_set_typo_of_sets", "[eval]\nset = []\n", {}, {"eval.set", "did you mean 'sets'?"}},
};

INSTANTIATE_TEST_SUITE_P(Table, BadConfigTest, ::testing::ValuesIn(kBadConfigs),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

TEST(Config, ReportsEveryProblemAtOnce) {
  try {
    resolve("[train]\nepochs = 0\nbatch_size = \"8\"\n[loss]\nplugin = \"aco\"\nalpah = 1.0\n");
    FAIL();
  } catch (const ConfigValidationError& e) {
    ASSERT_EQ(e.diagnostics().size(), 3u) << e.what();
    EXPECT_EQ(e.diagnostics()[0].where.line, 6);  // sections are checked in schema order: [loss] before [train]
    EXPECT_EQ(e.diagnostics()[0].key, "loss.alpah");
    std::set<std::string> rest = {e.diagnostics()[1].key, e.diagnostics()[2].key};
    EXPECT_EQ(rest, (std::set<std::string>{"train.epochs", "train.batch_size"}));
  }
}

TEST(Config, FillsDefaultsAndAcceptsIntegersForFloats) {
  const ResolvedConfig c = resolve("[train]\nlearning_rate = 1\n[loss]\nplugin = \"aco\"\nbeta = 2\n");
  EXPECT_EQ(c.plugin("loss"), "aco");
  EXPECT_EQ(c.plugin("model"), "");
  EXPECT_DOUBLE_EQ(c.view("train").get<double>("learning_rate"), 1.0);
  EXPECT_EQ(c.view("train").get<int>("epochs"), 1);  // default
  EXPECT_DOUBLE_EQ(c.view("loss").get<double>("beta"), 2.0);
  EXPECT_DOUBLE_EQ(c.view("loss").get<double>("alpha"), 1.0);  // manifest default
  EXPECT_FALSE(c.view("loss").contains("plugin"));
  EXPECT_EQ(c.view("run").get<std::string>("log_level"), "info");
}

TEST(Config, OverridesAreTypedLikeTomlValues) {
  const ResolvedConfig c =
      resolve("[loss]\nplugin = \"dpo\"\n", {"loss.beta=0.25", "train.epochs=3", "run.name=my-run", "run.out_dir=123",
                                             "loss.reference_free=true", "run.plugin_path=[\"a\", \"/b\"]"});
  EXPECT_DOUBLE_EQ(c.view("loss").get<double>("beta"), 0.25);
  EXPECT_EQ(c.view("train").get<int>("epochs"), 3);
  EXPECT_EQ(c.view("run").get<std::string>("name"), "my-run");
  EXPECT_EQ(c.view("run").get<std::string>("out_dir"), "123");  // a string key keeps the raw text
  EXPECT_TRUE(c.view("loss").get<bool>("reference_free"));
  EXPECT_EQ(c.view("run").get<std::vector<std::string>>("plugin_path"), (std::vector<std::string>{"/configs/a", "/b"}));
}

TEST(Config, OverrideCanSwitchThePluginAndIsValidatedAgainstTheNewManifest) {
  const ResolvedConfig c = resolve("[loss]\nplugin = \"dpo\"\n", {"loss.plugin=simpo", "loss.gamma=0.5"});
  EXPECT_EQ(c.plugin("loss"), "simpo");
  EXPECT_DOUBLE_EQ(c.view("loss").get<double>("gamma"), 0.5);
  // label_smoothing belongs to dpo only.
  EXPECT_THROW(resolve("[loss]\nplugin = \"dpo\"\nlabel_smoothing = 0.1\n", {"loss.plugin=simpo"}),
               ConfigValidationError);
}

TEST(Config, PathKeysAreResolvedAgainstTheConfigDirectory) {
  const ResolvedConfig c = resolve("[data]\ntrain = \"data/q.jsonl\"\neval = \"/abs/e.jsonl\"\n", {}, "/x/y/run.toml");
  EXPECT_EQ(c.view("data").get<std::string>("train"), "/x/y/data/q.jsonl");
  EXPECT_EQ(c.view("data").get<std::string>("eval"), "/abs/e.jsonl");
  EXPECT_EQ(c.view("data").get<std::string>("prompt_key"), "instruction");  // not a path key: untouched
}

TEST(Config, ResolvedTomlRoundTrips) {
  const ResolvedConfig a = resolve(
      "[run]\nname = \"q\\\"uote\"\nplugin_path = []\n[train]\nlearning_rate = 3e-7\n[loss]\nplugin = \"ipo\"\n"
      "beta = 0.3\n",
      {"data.train=q.jsonl"});
  const std::string text = a.to_toml();
  const ResolvedConfig b = resolve(text, {}, "/elsewhere/config.resolved.toml");
  EXPECT_EQ(b.to_toml().substr(b.to_toml().find("[run]")), text.substr(text.find("[run]")));
  EXPECT_EQ(b.view("run").get<std::string>("name"), "q\"uote");
  EXPECT_DOUBLE_EQ(b.view("train").get<double>("learning_rate"), 3e-7);
  EXPECT_EQ(b.plugin("loss"), "ipo");
  EXPECT_EQ(b.view("data").get<std::string>("train"), "/configs/q.jsonl");  // absolute: survives the move
}

TEST(Config, EvalSetsAreEntriesWithDefaultsAndResolvedPaths) {
  const ResolvedConfig c = resolve(
      "[eval]\nshots = 0\n\n[[eval.sets]]\nname = \"gsm8k\"\nfile = \"data/gsm8k.jsonl\"\nshots = 4\n"
      "shots_file = \"data/train.jsonl\"\n\n[[eval.sets]]\nname = \"arc\"\nfile = \"/abs/arc.jsonl\"\n"
      "checker = \"choice\"\n",
      {}, "/x/run.toml");
  const std::vector<ConfigView> sets = c.table_array("eval", "sets");
  ASSERT_EQ(sets.size(), 2u);
  EXPECT_EQ(sets[0].get<std::string>("name"), "gsm8k");
  EXPECT_EQ(sets[0].get<std::string>("file"), "/x/data/gsm8k.jsonl");
  EXPECT_EQ(sets[0].get<std::string>("shots_file"), "/x/data/train.jsonl");
  EXPECT_EQ(sets[0].get<int>("shots"), 4);
  EXPECT_EQ(sets[0].get<std::string>("checker"), "auto");  // the default
  EXPECT_EQ(sets[1].get<std::string>("file"), "/abs/arc.jsonl");
  EXPECT_EQ(sets[1].get<std::string>("checker"), "choice");
  EXPECT_EQ(sets[1].get<int>("max_items"), 0);
  EXPECT_TRUE(c.table_array("eval", "other").empty());
  EXPECT_TRUE(resolve("[eval]\n").table_array("eval", "sets").empty());

  // The resolved config writes them back as [[eval.sets]] and reads as the same config.
  const std::string text = c.to_toml();
  EXPECT_THAT(text, HasSubstr("\n[[eval.sets]]\nchecker = \"auto\"\nfile = \"/x/data/gsm8k.jsonl\"\n"));
  const ResolvedConfig back = resolve(text, {}, "/elsewhere/config.resolved.toml");
  EXPECT_TRUE(same_resolved_config(back.to_toml(), text));
  ASSERT_EQ(back.table_array("eval", "sets").size(), 2u);
  EXPECT_EQ(back.table_array("eval", "sets")[1].get<std::string>("name"), "arc");

  // --set replaces them all, as an inline array of tables.
  const ResolvedConfig set = resolve(text, {"eval.sets=[{name = \"m\", file = \"m.jsonl\"}]"});
  ASSERT_EQ(set.table_array("eval", "sets").size(), 1u);
  EXPECT_EQ(set.table_array("eval", "sets")[0].get<std::string>("file"), "/configs/m.jsonl");
}

TEST(Config, DifferencesNameEveryChangedKeyAndIgnoreCommentsAndDistributed) {
  const std::string base = "[train]\nlearning_rate = 1e-3\n[eval]\n[[eval.sets]]\nname = \"a\"\nfile = \"a.jsonl\"\n";
  const std::string a = resolve(base).to_toml();
  EXPECT_TRUE(resolved_config_differences(a, a).empty());
  // A comment and [distributed] change no result.
  const std::string b = resolve(base, {"distributed.timeout_seconds=99"}).to_toml();
  EXPECT_TRUE(resolved_config_differences("# another header\n" + a, b).empty());
  EXPECT_TRUE(same_resolved_config(a, b));
  // A changed key, a changed table-array entry and a key only one side has.
  const std::string c =
      resolve(base, {"train.learning_rate=0.5", "eval.sets=[{name = \"a\", file = \"b.jsonl\"}]"}).to_toml();
  const std::vector<std::string> changed = resolved_config_differences(a, c);
  ASSERT_EQ(changed.size(), 2u);
  EXPECT_EQ(changed[0], "eval.sets[0].file (was \"/configs/a.jsonl\", now \"/configs/b.jsonl\")");
  EXPECT_EQ(changed[1], "train.learning_rate (was 0.001, now 0.5)");
  EXPECT_FALSE(same_resolved_config(a, c));
  EXPECT_THAT(resolved_config_differences(a, a + "[extra]\nkey = 1\n"), ElementsAre("extra.key (was not set, now 1)"));
}

TEST(Config, MissingFileIsAnErrorNamingIt) {
  try {
    RawConfig::load("/nonexistent/run.toml");
    FAIL();
  } catch (const ConfigValidationError& e) {
    EXPECT_THAT(e.what(), HasSubstr("/nonexistent/run.toml"));
    EXPECT_THAT(e.what(), HasSubstr("no such file"));
  }
}

TEST(ConfigView, TypedAccessAndErrors) {
  const ConfigView v("loss", {{"beta", 0.5}, {"n", std::int64_t{3}}, {"name", std::string("x")}});
  EXPECT_DOUBLE_EQ(v.get<double>("beta"), 0.5);
  EXPECT_DOUBLE_EQ(v.get<double>("n"), 3.0);  // ints read as floats
  EXPECT_EQ(v.get<int>("n"), 3);
  EXPECT_EQ(v.get_or<int>("missing", 7), 7);
  EXPECT_THROW(v.get<int>("beta"), ConfigError);
  try {
    v.get<double>("gamma");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("loss.gamma"));
  }
  const ConfigView big("s", {{"n", std::int64_t{1} << 40}});
  EXPECT_THROW(big.get<int>("n"), ConfigError);
  const ConfigView negative("s", {{"n", std::int64_t{-1}}});
  EXPECT_THROW(negative.get<unsigned>("n"), ConfigError);
  EXPECT_EQ(negative.get<int>("n"), -1);
}

TEST(FormatValue, WritesTomlLiterals) {
  EXPECT_EQ(format_value(0.1), "0.1");
  EXPECT_EQ(format_value(1.0), "1.0");
  EXPECT_EQ(format_value(5e-7), "5e-07");
  EXPECT_EQ(format_value(std::int64_t{4}), "4");
  EXPECT_EQ(format_value(true), "true");
  EXPECT_EQ(format_value(std::string("a\"b\\c\n")), "\"a\\\"b\\\\c\\n\"");
  EXPECT_EQ(format_value(std::vector<std::string>{"x", "y"}), "[\"x\", \"y\"]");
  EXPECT_EQ(format_value(std::vector<double>{}), "[]");
}

}  // namespace
}  // namespace genius::core

namespace genius::core {
namespace {

TEST(ConfigDocs, EveryKeyIsDocumented) {
  std::ifstream in(std::string(GENIUS_SOURCE_DIR) + "/docs/config.md");
  ASSERT_TRUE(in) << "docs/config.md is missing";
  const std::string docs{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  for (const std::string& section : config_sections()) {
    EXPECT_NE(docs.find("[" + section + "]"), std::string::npos) << "section [" << section << "]";
    for (const ConfigKey& key : core_keys(section))
      EXPECT_NE(docs.find("`" + key.name + "`"), std::string::npos) << section << "." << key.name;
    for (const TableArraySpec& array : core_table_arrays(section)) {
      EXPECT_NE(docs.find("[[" + section + "." + array.key + "]]"), std::string::npos) << section << "." << array.key;
      for (const ConfigKey& key : array.keys)
        EXPECT_NE(docs.find("`" + key.name + "`"), std::string::npos) << section << "." << array.key << "." << key.name;
    }
  }
  for (const PluginInfo* info : registry().plugins()) {
    EXPECT_NE(docs.find(info->manifest.name), std::string::npos) << "plugin " << info->manifest.name;
    for (const ConfigKey& key : info->manifest.keys)
      EXPECT_NE(docs.find("`" + key.name + "`"), std::string::npos) << info->manifest.name << "." << key.name;
  }
}

}  // namespace
}  // namespace genius::core
