// The benchmarks of an evaluation: which sets a config names, in which order,
// with which options; the averages and the per-benchmark table, checked
// against sums written out here.
#include "eval/eval_sets.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <genius/error.hpp>

#include "config/config.hpp"
#include "test_support.hpp"

namespace genius::core {
namespace {

using ::testing::HasSubstr;
using json = nlohmann::json;

ResolvedConfig resolve(const std::string& text) {
  return validate(RawConfig::parse(text, "/c/run.toml"), test::builtin_registry());
}

std::string eval_error(const std::string& text) {
  try {
    eval_sets(resolve(text), 1);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "accepted";
}

TEST(EvalSets, MainThenExtraThenNamedSetsEachWithItsOptions) {
  const ResolvedConfig config = resolve(
      "[data]\neval = \"gsm8k_test.jsonl\"\nextra_eval = [\"hard.jsonl\"]\nmax_eval_queries = 50\n"
      "[eval]\nshots = 0\nchecker = \"gsm8k\"\nmax_new_tokens = 99\n"
      "[[eval.sets]]\nname = \"math500\"\nfile = \"m.jsonl\"\nchecker = \"math\"\nshots = 4\n"
      "shots_file = \"ex.jsonl\"\nmax_items = 7\n"
      "[[eval.sets]]\nname = \"arc\"\nfile = \"arc.jsonl\"\n");
  const std::vector<EvalSet> sets = eval_sets(config, 5);
  ASSERT_EQ(sets.size(), 4u);
  EXPECT_EQ(sets[0].name, "");
  EXPECT_EQ(sets[0].label, "gsm8k_test");
  EXPECT_EQ(sets[0].options.max_items, 50u);
  EXPECT_EQ(sets[0].options.checker, "gsm8k");
  EXPECT_EQ(sets[1].name, "hard");  // extra_eval: [eval]'s settings, all items
  EXPECT_EQ(sets[1].options.items_file, "/c/hard.jsonl");
  EXPECT_EQ(sets[1].options.max_items, 0u);
  EXPECT_EQ(sets[1].options.checker, "gsm8k");
  EXPECT_EQ(sets[2].name, "math500");
  EXPECT_EQ(sets[2].options.items_file, "/c/m.jsonl");
  EXPECT_EQ(sets[2].options.checker, "math");
  EXPECT_EQ(sets[2].options.shots, 4u);
  EXPECT_EQ(sets[2].options.shots_file, "/c/ex.jsonl");
  EXPECT_EQ(sets[2].options.max_items, 7u);
  EXPECT_EQ(sets[3].options.checker, "auto");  // its own default, not [eval]'s
  for (const EvalSet& s : sets) {
    EXPECT_EQ(s.options.max_new_tokens, 99);  // generation settings: [eval]'s for all
    EXPECT_EQ(s.options.seed, 5u);
  }
  EXPECT_EQ(metric_key(sets[0], "pass@1"), "pass@1");
  EXPECT_EQ(metric_key(sets[2], "pass@1"), "math500/pass@1");
  EXPECT_TRUE(eval_sets(resolve("[eval]\n"), 1).empty());
}

TEST(EvalSets, NamesThatWouldShareAColumnAreRefused) {
  EXPECT_THAT(eval_error("[data]\neval = \"gsm8k.jsonl\"\n[[eval.sets]]\nname = \"gsm8k\"\nfile = \"g2.jsonl\"\n"),
              HasSubstr("eval.sets[0].name: 'gsm8k' is also the name of [data] eval"));
  EXPECT_THAT(eval_error("[data]\neval = \"e.jsonl\"\nextra_eval = [\"a/x.jsonl\", \"b/x.jsonl\"]\n"),
              HasSubstr("'x' is also the name of data.extra_eval file"));
  EXPECT_THAT(eval_error("[data]\neval = \"e.jsonl\"\nextra_eval = [\"arc.jsonl\"]\n[[eval.sets]]\nname = \"arc\"\n"
                         "file = \"arc2.jsonl\"\n"),
              HasSubstr("eval.sets[0].name: 'arc' is also the name of data.extra_eval file"));
  EXPECT_THAT(eval_error("[data]\neval = \"average.jsonl\"\n"), HasSubstr("the table's average column"));
  EXPECT_THAT(eval_error("[data]\nextra_eval = [\"x.jsonl\"]\n"), HasSubstr("[data] eval is not"));
  EXPECT_THAT(eval_error("[[eval.sets]]\nname = \"a\"\nfile = \"a.jsonl\"\nshots = 3\n"),
              HasSubstr("eval.sets[0].shots = 3 needs its shots_file"));
}

TEST(EvalSets, AveragesAndTheTableAreTheMeansOfEachSet) {
  const ResolvedConfig config = resolve(
      "[data]\neval = \"main.jsonl\"\n[[eval.sets]]\nname = \"a\"\nfile = \"a.jsonl\"\n"
      "[[eval.sets]]\nname = \"b\"\nfile = \"b.jsonl\"\n");
  const std::vector<EvalSet> sets = eval_sets(config, 1);
  json r0 = {
      {"iteration", 0},          {"greedy_accuracy", 0.5}, {"a/greedy_accuracy", 0.25}, {"b/greedy_accuracy", 0.0},
      {"pass@1", 0.4},           {"a/pass@1", 0.1},        {"b/pass@1", 0.7},           {"greedy_answered", 1.0},
      {"a/greedy_answered", 0.5}};  // b/greedy_answered missing: no average of it
  add_averages(r0, sets);
  EXPECT_DOUBLE_EQ(r0["average/greedy_accuracy"].get<double>(), (0.5 + 0.25 + 0.0) / 3);
  EXPECT_DOUBLE_EQ(r0["average/pass@1"].get<double>(), (0.4 + 0.1 + 0.7) / 3);
  EXPECT_FALSE(r0.contains("average/greedy_answered"));
  json r1 = {{"iteration", 1}, {"greedy_accuracy", 0.75}, {"a/greedy_accuracy", 0.5}};  // b failed to report
  add_averages(r1, sets);
  EXPECT_FALSE(r1.contains("average/greedy_accuracy"));

  EXPECT_EQ(benchmark_metric(config), "greedy_accuracy");
  const json table = benchmark_table(sets, "greedy_accuracy", {r0, r1});
  EXPECT_EQ(table["sets"], json({"main", "a", "b"}));
  ASSERT_EQ(table["rows"].size(), 2u);
  EXPECT_EQ(table["rows"][0]["iteration"], 0);
  EXPECT_DOUBLE_EQ(table["rows"][0]["main"].get<double>(), 0.5);
  EXPECT_DOUBLE_EQ(table["rows"][0]["a"].get<double>(), 0.25);
  EXPECT_DOUBLE_EQ(table["rows"][0]["average"].get<double>(), 0.25);
  EXPECT_TRUE(table["rows"][1]["b"].is_null());
  EXPECT_TRUE(table["rows"][1]["average"].is_null());

  // Only [data] eval: no table (the evaluation table says it all), no average.
  const ResolvedConfig plain = resolve("[data]\neval = \"main.jsonl\"\n[eval]\ngreedy = false\nsamples = 2\n");
  EXPECT_EQ(benchmark_metric(plain), "pass@1");
  json only = {{"iteration", 0}, {"pass@1", 0.5}};
  add_averages(only, eval_sets(plain, 1));
  EXPECT_FALSE(only.contains("average/pass@1"));
  EXPECT_TRUE(benchmark_table(eval_sets(plain, 1), "pass@1", {only}).is_null());
}

}  // namespace
}  // namespace genius::core
