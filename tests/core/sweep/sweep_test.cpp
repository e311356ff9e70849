// Sweeps without running anything: grid expansion (axes, zips, exclude and
// when rules, seeds), errors for bad sweep files, validation of every cell,
// the exploration-sharing plan and file hand-over, and the result tables —
// and, with GENIUS_CHROMIUM set, sweep.html in headless Chromium.
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <genius/helpers/atomic_file.hpp>

#include "csv.hpp"
#include "run/report.hpp"
#include "screenshot.hpp"
#include "sweep/sweep.hpp"
#include "sweep/sweep_report.hpp"
#include "test_support.hpp"

namespace genius::core {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

const char* kBase = R"([run]
seed = 3

[data]
train = "train.jsonl"
eval = "eval.jsonl"

[model]
plugin = "torch-llama"
path = "model"

[sampler]
plugin = "foresight"
num_rollout = 2

[value]
plugin = "foresight-logprob"

[loss]
plugin = "aco"
beta = 0.1
alpha = 2.0

[train]
epochs = 1
)";

// A directory holding base.toml and sweep.toml (`sweep`).
fs::path sweep_file(const std::string& name, const std::string& sweep) {
  const fs::path dir = test::scratch_dir("genius_sweep_test", name);
  fs::create_directories(dir);
  write_file_atomic(dir / "base.toml", kBase);
  write_file_atomic(dir / "sweep.toml", sweep);
  // The data files the base config names (plan_sweep checks that they exist).
  write_file_atomic(dir / "train.jsonl", "{\"instruction\": \"1+1\"}\n");
  write_file_atomic(dir / "eval.jsonl", "{\"instruction\": \"1+1\", \"answer\": \"2\"}\n");
  return dir / "sweep.toml";
}

std::vector<std::string> names(const std::vector<SweepCell>& cells) {
  std::vector<std::string> out;
  for (const SweepCell& c : cells) out.push_back(c.name);
  return out;
}

// The message of the ConfigValidationError `f` throws ("" when none).
template <class F>
std::string error_of(F f) {
  try {
    f();
  } catch (const ConfigValidationError& e) {
    return e.what();
  }
  return "";
}

// ------------------------------------------------------------------ grid

TEST(SweepGrid, AxesZipsSeedsAndExcludesInFileOrder) {
  const fs::path file = sweep_file("grid", R"([sweep]
base = "base.toml"
seeds = [1, 2]

[[sweep.axis]]
key = "loss.plugin"
values = ["aco", "dpo", "sft"]

[[sweep.zip]]
keys = ["sampler.num_rollout", "sampler.num_foresight"]
values = [[2, 2], [4, 3]]

[[sweep.exclude]]
"loss.plugin" = "sft"
"sampler.num_rollout" = 4

[[sweep.exclude]]
loss.plugin = "dpo"
run.seed = 2

[set]
"train.epochs" = 2
)");
  const std::vector<SweepCell> cells = expand_grid(SweepSpec::load(file));
  EXPECT_THAT(names(cells), ElementsAre("loss.plugin=aco,sampler.num_rollout=2,sampler.num_foresight=2,seed=1",
                                        "loss.plugin=aco,sampler.num_rollout=2,sampler.num_foresight=2,seed=2",
                                        "loss.plugin=aco,sampler.num_rollout=4,sampler.num_foresight=3,seed=1",
                                        "loss.plugin=aco,sampler.num_rollout=4,sampler.num_foresight=3,seed=2",
                                        "loss.plugin=dpo,sampler.num_rollout=2,sampler.num_foresight=2,seed=1",
                                        "loss.plugin=dpo,sampler.num_rollout=4,sampler.num_foresight=3,seed=1",
                                        "loss.plugin=sft,sampler.num_rollout=2,sampler.num_foresight=2,seed=1",
                                        "loss.plugin=sft,sampler.num_rollout=2,sampler.num_foresight=2,seed=2"));
  const SweepCell& dpo = cells[5];
  EXPECT_EQ(dpo.group, "loss.plugin=dpo,sampler.num_rollout=4,sampler.num_foresight=3");
  EXPECT_EQ(dpo.seed, 1);
  EXPECT_THAT(dpo.overrides, ElementsAre("train.epochs=2", "loss.plugin=\"dpo\"", "sampler.num_rollout=4",
                                         "sampler.num_foresight=3", "run.seed=1", "run.name=\"" + dpo.name + "\""));
}

TEST(SweepGrid, AZipBeforeAnAxisVariesSlowestAndWhenRulesAddSettings) {
  const fs::path file = sweep_file("zipfirst", R"([sweep]
base = "base.toml"

[[sweep.zip]]
keys = ["sampler.plugin", "value.plugin"]
values = [["foresight", "foresight-logprob"], ["best-of-n", "sequence-logprob"]]

[[sweep.axis]]
key = "train.learning_rate"
values = [1e-4, 5e-7]

[[sweep.when]]
match = { "sampler.plugin" = "best-of-n" }
set = { "sampler.n" = 4, "sampler.max_tokens" = 16 }

[[sweep.exclude]]
"train.learning_rate" = 0.0001
"value.plugin" = "sequence-logprob"
)");
  const std::vector<SweepCell> cells = expand_grid(SweepSpec::load(file));
  EXPECT_THAT(names(cells),
              ElementsAre("sampler.plugin=foresight,value.plugin=foresight-logprob,train.learning_rate=0.0001",
                          "sampler.plugin=foresight,value.plugin=foresight-logprob,train.learning_rate=5e-07",
                          "sampler.plugin=best-of-n,value.plugin=sequence-logprob,train.learning_rate=5e-07"))
      << "1e-4 == 0.0001: the exclude rule compares numbers by value";
  EXPECT_FALSE(cells[0].seed.has_value());
  EXPECT_THAT(cells[2].overrides, ElementsAre("sampler.max_tokens=16", "sampler.n=4", "sampler.plugin=\"best-of-n\"",
                                              "value.plugin=\"sequence-logprob\"", "train.learning_rate=5e-07",
                                              "run.name=\"" + cells[2].name + "\""));
  EXPECT_THAT(cells[0].overrides, Not(::testing::Contains("sampler.n=4")));
}

TEST(SweepGrid, GridsAreUnitedAndKeysMayDifferBetweenThem) {
  const fs::path file = sweep_file("grids", R"([sweep]
base = "base.toml"
seeds = [1]

[[sweep.grid]]
  [[sweep.grid.zip]]
  keys = ["sampler.plugin", "value.plugin"]
  values = [["foresight", "foresight-logprob"], ["best-of-n", "sequence-logprob"]]

[[sweep.grid]]
  [[sweep.grid.zip]]
  keys = ["sampler.step_beam_size", "sampler.num_rollout"]
  values = [[1, 2], [2, 4]]
)");
  const SweepSpec spec = SweepSpec::load(file);
  EXPECT_THAT(spec.varied_keys(),
              ElementsAre("sampler.plugin", "value.plugin", "sampler.step_beam_size", "sampler.num_rollout"));
  const SweepPlan plan = plan_sweep(spec, test::builtin_registry());
  std::vector<std::string> cell_names;
  for (const PlannedCell& c : plan.cells) cell_names.push_back(c.cell.name);
  EXPECT_THAT(cell_names, ElementsAre("sampler.plugin=foresight,value.plugin=foresight-logprob,seed=1",
                                      "sampler.plugin=best-of-n,value.plugin=sequence-logprob,seed=1",
                                      "sampler.step_beam_size=1,sampler.num_rollout=2,seed=1",
                                      "sampler.step_beam_size=2,sampler.num_rollout=4,seed=1"));
  EXPECT_EQ(plan.cells[1].config.plugin("sampler"), "best-of-n") << "the base's foresight keys are not carried over";
  EXPECT_EQ(plan.cells[3].config.view("sampler").get<int>("num_rollout"), 4);
}

TEST(SweepGrid, NothingVariedIsOneCellAndNamesAreSanitised) {
  EXPECT_THAT(names(expand_grid(SweepSpec::load(sweep_file("single", "[sweep]\nbase = \"base.toml\"\n")))),
              ElementsAre("base"));
  const std::vector<SweepCell> seeds =
      expand_grid(SweepSpec::load(sweep_file("seeds", "[sweep]\nbase = \"base.toml\"\nseeds = [4, 5]\n")));
  EXPECT_THAT(names(seeds), ElementsAre("seed=4", "seed=5"));
  EXPECT_EQ(seeds[0].group, "base");
  const std::vector<SweepCell> paths = expand_grid(SweepSpec::load(sweep_file("paths", R"([sweep]
base = "base.toml"
[[sweep.axis]]
key = "model.path"
values = ["models/a b", "models/a_b"]
)")));
  EXPECT_THAT(names(paths), ElementsAre("model.path=models_a_b", "model.path=models_a_b-2"));
  EXPECT_EQ(sanitize_name("x/../y z"), "x_.._y_z");
}

// ----------------------------------------------------------- bad files

TEST(SweepFile, ErrorsNameTheFileTheLineAndTheKey) {
  const std::string unknown =
      error_of([] { SweepSpec::load(sweep_file("unknown", "[sweep]\nbase = \"base.toml\"\nsed = [1]\n")); });
  EXPECT_THAT(unknown, HasSubstr("sweep.toml:3:7: sed: unknown key 'sed' in [sweep]; did you mean 'seeds'?"));

  const std::string zip = error_of([] {
    SweepSpec::load(sweep_file("zip", R"([sweep]
base = "base.toml"
[[sweep.zip]]
keys = ["sampler.num_rollout", "sampler.num_foresight"]
values = [[2, 2], [4]]
)"));
  });
  EXPECT_THAT(zip,
              HasSubstr("sweep.toml:5:19: sampler.num_rollout, sampler.num_foresight: a row has 1 values for 2 keys"));

  const std::string empty = error_of([] {
    SweepSpec::load(
        sweep_file("empty", "[sweep]\nbase = \"base.toml\"\n[[sweep.axis]]\nkey = \"loss.plugin\"\nvalues = []\n"));
  });
  EXPECT_THAT(empty, HasSubstr("sweep.toml:5:10: loss.plugin: values is empty"));

  const std::string no_base = error_of([] { SweepSpec::load(sweep_file("nobase", "[sweep]\nseeds = [1]\n")); });
  EXPECT_THAT(no_base, HasSubstr("sweep.toml:1:1: sweep.base: missing"));

  const std::string shape = error_of([] {
    SweepSpec::load(
        sweep_file("shape", "[sweep]\nbase = \"base.toml\"\n[[sweep.axis]]\nkey = \"beta\"\nvalues = [1]\n"));
  });
  EXPECT_THAT(shape, HasSubstr("sweep.toml:4:7: beta: expected a config key 'section.key'"));

  const std::string twice = error_of([] {
    SweepSpec::load(sweep_file("twice", R"([sweep]
base = "base.toml"
[[sweep.axis]]
key = "loss.beta"
values = [0.1]
[[sweep.zip]]
keys = ["loss.beta", "loss.alpha"]
values = [[0.1, 1]]
)"));
  });
  EXPECT_THAT(twice, HasSubstr("sweep.toml:7:9: loss.beta: is varied twice"));

  const std::string toml = error_of([] { SweepSpec::load(sweep_file("toml", "[sweep\n")); });
  EXPECT_THAT(toml, HasSubstr("sweep.toml:1:"));
  EXPECT_THAT(toml, HasSubstr("invalid TOML"));
}

TEST(SweepFile, RulesMustNameVariedKeysAndMatchSomeCell) {
  const std::string typo = error_of([] {
    SweepSpec::load(sweep_file("ruletypo", R"([sweep]
base = "base.toml"
[[sweep.axis]]
key = "loss.plugin"
values = ["aco", "dpo"]
[[sweep.exclude]]
"loss.plugins" = "dpo"
)"));
  });
  EXPECT_THAT(typo, HasSubstr("sweep.toml:7:18: loss.plugins: [[sweep.exclude]] #1 names 'loss.plugins', which no axis "
                              "varies; did you mean 'loss.plugin'?"));
  const std::string nothing = error_of([] {
    expand_grid(SweepSpec::load(sweep_file("rulenone", R"([sweep]
base = "base.toml"
[[sweep.axis]]
key = "loss.plugin"
values = ["aco", "dpo"]
[[sweep.exclude]]
"loss.plugin" = "ipo"
)")));
  });
  EXPECT_THAT(nothing, HasSubstr("sweep.toml:6:1: sweep.exclude: the rule (loss.plugin = ipo) matches no cell"));
}

// ------------------------------------------------------------------- plan

TEST(SweepPlan, EveryCellIsValidatedAndErrorsPointIntoTheSweepFile) {
  const fs::path file = sweep_file("badcells", R"([sweep]
base = "base.toml"
seeds = [1, 2]
[[sweep.axis]]
key = "loss.plugin"
values = ["aco", "dpoo"]
[[sweep.axis]]
key = "loss.betta"
values = [0.1]
)");
  const std::string error = error_of([&] { plan_sweep(SweepSpec::load(file), test::builtin_registry()); });
  EXPECT_THAT(error, HasSubstr("sweep.toml:6:18: loss.plugin: no loss plugin named 'dpoo'; did you mean 'dpo'?"));
  EXPECT_THAT(error, HasSubstr("(cell loss.plugin=dpoo,loss.betta=0.1,seed=1)"));
  EXPECT_THAT(error, HasSubstr("sweep.toml:9:11: loss.betta: unknown key 'betta'; did you mean 'beta'?"));
  EXPECT_EQ(std::count(error.begin(), error.end(), '\n'), 1) << "each problem once, not once per cell:\n" << error;

  const std::string missing = error_of([] {
    plan_sweep(SweepSpec::load(sweep_file("missingbase", "[sweep]\nbase = \"nope.toml\"\n")), test::builtin_registry());
  });
  EXPECT_THAT(missing, HasSubstr("sweep.toml:2:8: sweep.base: the base config"));
  EXPECT_THAT(missing, HasSubstr("nope.toml' does not exist"));

  const std::string type = error_of([] {
    plan_sweep(SweepSpec::load(sweep_file("type", "[sweep]\nbase = \"base.toml\"\n[set]\n\"train.epochs\" = 1.5\n")),
               test::builtin_registry());
  });
  EXPECT_THAT(type, HasSubstr("sweep.toml:4:18: train.epochs: expected an int, got a float"));
}

TEST(SweepPlan, ASwitchedPluginStartsFromItsDefaultsAndLossOnlyCellsShareExploration) {
  const fs::path file = sweep_file("share", R"([sweep]
base = "base.toml"
seeds = [1, 2]
[[sweep.axis]]
key = "loss.plugin"
values = ["aco", "dpo", "simpo"]
)");
  const SweepPlan plan = plan_sweep(SweepSpec::load(file), test::builtin_registry());
  ASSERT_EQ(plan.cells.size(), 6u);
  // aco keeps the base's alpha = 2; dpo has no alpha (the base section's
  // keys would not validate) and simpo gets its own default beta.
  EXPECT_EQ(plan.cells[0].config.view("loss").get<double>("alpha"), 2.0);
  EXPECT_EQ(plan.cells[2].config.plugin("loss"), "dpo");
  EXPECT_EQ(plan.cells[4].config.view("loss").get<double>("beta"), 2.0);
  EXPECT_EQ(plan.cells[3].config.view("run").get<std::int64_t>("seed"), 2);
  EXPECT_EQ(plan.cells[3].config.view("run").get<std::string>("name"), "loss.plugin=dpo,seed=2");
  std::vector<int> explorers;
  for (const PlannedCell& c : plan.cells) explorers.push_back(c.explorer);
  EXPECT_THAT(explorers, ElementsAre(-1, -1, 0, 1, 0, 1)) << "the first cell of each seed explores for the others";

  const SweepPlan sampler = plan_sweep(SweepSpec::load(sweep_file("noshare", R"([sweep]
base = "base.toml"
[[sweep.axis]]
key = "sampler.num_rollout"
values = [2, 3]
[[sweep.axis]]
key = "train.learning_rate"
values = [1e-4, 1e-5]
)")),
                                       test::builtin_registry());
  explorers.clear();
  for (const PlannedCell& c : sampler.cells) explorers.push_back(c.explorer);
  EXPECT_THAT(explorers, ElementsAre(-1, 0, -1, 2)) << "a sampler key changes the exploration; a train key does not";
}

TEST(SweepPlan, ShareExplorationHandsOverTheFilesAndMarksTheStages) {
  const fs::path dir = test::scratch_dir("genius_sweep_test", "handover");
  const fs::path donor = dir / "donor", cell = dir / "cell";
  fs::create_directories(donor / "iter-1");
  fs::create_directories(donor / "iter-0");
  EXPECT_FALSE(share_exploration(donor, "donor", cell)) << "nothing explored yet";
  write_file_atomic(donor / "iter-1/records.jsonl", "{\"a\": 1}\n");
  write_file_atomic(donor / "iter-1/pairs.jsonl", "{\"p\": 1}\n");
  write_file_atomic(donor / "iter-0/eval.jsonl", "{\"e\": 1}\n");
  json state = {{"stages",
                 {{"eval-0", {{"greedy_accuracy", 0.5}, {"generated_tokens", 40}}},
                  {"explore-1", {{"generated_tokens", 900}, {"seconds", 2.5}}}}}};
  write_file_atomic(donor / "state.json", state.dump());
  EXPECT_FALSE(share_exploration(donor, "donor", cell)) << "pairs not built yet";
  state["stages"]["pairs-1"] = {{"pairs", 3}};
  write_file_atomic(donor / "state.json", state.dump());
  ASSERT_TRUE(share_exploration(donor, "donor", cell));
  EXPECT_EQ(read_file(cell / "iter-1/records.jsonl"), "{\"a\": 1}\n");
  EXPECT_EQ(read_file(cell / "iter-1/pairs.jsonl"), "{\"p\": 1}\n");
  EXPECT_EQ(read_file(cell / "iter-0/eval.jsonl"), "{\"e\": 1}\n");
  const json stages = read_run_state(cell)["stages"];
  EXPECT_EQ(stages["explore-1"]["generated_tokens"], 900);
  for (const char* s : {"eval-0", "explore-1", "pairs-1"}) EXPECT_EQ(stages[s]["shared_from"], "donor") << s;
  EXPECT_TRUE(has_exploration(cell));
  const CellNumbers numbers = cell_numbers({{"stages", stages}});
  EXPECT_EQ(numbers.tokens_saved, 940);
  EXPECT_EQ(numbers.tokens_sampled, 0);
  EXPECT_DOUBLE_EQ(numbers.seconds_saved, 2.5);
}

// ----------------------------------------------------------------- tables

SweepCellResult result(const std::string& loss, std::int64_t seed, const std::string& status, double greedy) {
  const std::string group = "loss.plugin=" + loss;
  json summary = {
      {"status", status},
      {"wall_seconds", 2.0},
      {"eval", {{{"iteration", 0}, {"greedy_accuracy", 0.0}}, {{"iteration", 1}, {"greedy_accuracy", greedy}}}},
      {"stages", {{"explore-1", {{"generated_tokens", 100}}}, {"eval-1", {{"generated_tokens", 10}}}}}};
  return {group + ",seed=" + std::to_string(seed), group, {{"loss.plugin", loss}}, seed, status, "", summary};
}

TEST(SweepTables, GroupsHaveMeanAndSampleStdOverFinishedSeeds) {
  const std::vector<SweepCellResult> cells = {result("aco", 1, "finished", 0.25), result("aco", 2, "finished", 0.75),
                                              result("aco", 3, "finished", 0.5), result("dpo", 1, "finished", 0.5),
                                              result("dpo", 2, "failed", 0.9)};
  const auto rows = test::parse_csv(render_sweep_csv({"loss.plugin"}, cells));
  ASSERT_EQ(rows.size(), 2u + cells.size());
  const auto& aco = rows[0];
  EXPECT_EQ(aco.at("row"), "group");
  EXPECT_EQ(aco.at("loss.plugin"), "aco");
  EXPECT_EQ(aco.at("n"), "3");
  EXPECT_DOUBLE_EQ(std::stod(aco.at("greedy_accuracy_mean")), 0.5);
  EXPECT_NEAR(std::stod(aco.at("greedy_accuracy_std")), 0.25, 1e-9) << "sample std: sqrt((0.0625 * 2) / 2)";
  EXPECT_EQ(aco.at("pass@1_mean"), "");
  EXPECT_EQ(aco.at("tokens_sampled"), "330");
  const auto& dpo = rows[1];
  EXPECT_EQ(dpo.at("n"), "1") << "the failed seed is not averaged";
  EXPECT_DOUBLE_EQ(std::stod(dpo.at("greedy_accuracy_mean")), 0.5);
  EXPECT_EQ(dpo.at("greedy_accuracy_std"), "") << "one seed: no deviation";
  EXPECT_EQ(dpo.at("status"), "1/2 finished, 1 failed");
  EXPECT_EQ(rows[6].at("row"), "cell");
  EXPECT_EQ(rows[6].at("status"), "failed");
  EXPECT_EQ(rows[6].at("greedy_accuracy_mean"), "");
  EXPECT_EQ(rows[2].at("seed"), "1");

  const std::string md = render_sweep_markdown("losses", {"loss.plugin"}, cells);
  EXPECT_THAT(md, HasSubstr("| aco | 0.5 ± 0.25 | — | 3 | finished |"));
  EXPECT_THAT(md, HasSubstr("| dpo | 0.5 | — | 1 | 1/2 finished, 1 failed |"));
  EXPECT_THAT(md, HasSubstr("loss.plugin=dpo,seed=2 | failed (see loss.plugin=dpo,seed=2/cell.log)"));

  const std::string html = render_sweep_html("losses", {"loss.plugin"}, cells);
  EXPECT_THAT(html, HasSubstr("Content-Security-Policy"));
  EXPECT_THAT(html, HasSubstr(std::string("fill=\"") + report_colours::kGreedyAccuracy + "\""));
  EXPECT_THAT(html, HasSubstr("No finished cell reported pass@1"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));
}

TEST(SweepTables, MeanStdMatchesTheDefinition) {
  const MetricStats s = mean_std({1.0, 2.0, 4.0});
  EXPECT_EQ(s.n, 3u);
  EXPECT_DOUBLE_EQ(s.mean, 7.0 / 3);
  EXPECT_NEAR(
      *s.std,
      std::sqrt(((1 - 7.0 / 3) * (1 - 7.0 / 3) + (2 - 7.0 / 3) * (2 - 7.0 / 3) + (4 - 7.0 / 3) * (4 - 7.0 / 3)) / 2),
      1e-12);
  EXPECT_FALSE(mean_std({0.3}).std.has_value());
  EXPECT_EQ(mean_std({}).n, 0u);
}

// ------------------------------------------------ rendering in Chromium

class SweepReportScreenshot : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::getenv("GENIUS_CHROMIUM")) GTEST_SKIP() << "set GENIUS_CHROMIUM (tests/core/report_chromium_test.sh)";
  }
};

// Two metrics, two axes: every bar in its metric's colour, the greedy chart
// above the pass@1 chart, error bars drawn.
TEST_F(SweepReportScreenshot, BarsOfEveryMetricAreDrawn) {
  std::vector<SweepCellResult> cells;
  int i = 0;
  for (const char* loss : {"aco", "dpo", "simpo"})
    for (const char* lr : {"1e-4", "1e-5"})
      for (std::int64_t seed : {1, 2}) {
        const double v = 0.2 + 0.1 * (i % 5) + 0.05 * static_cast<double>(seed);
        json summary = {{"status", "finished"},
                        {"eval", {{{"iteration", 1}, {"greedy_accuracy", v}, {"pass@1", v / 2}}}}};
        const std::string group = std::string("loss.plugin=") + loss + ",train.learning_rate=" + lr;
        cells.push_back({group + ",seed=" + std::to_string(seed),
                         group,
                         {{"loss.plugin", loss}, {"train.learning_rate", lr}},
                         seed,
                         "finished",
                         "",
                         summary});
        ++i;
      }
  const test::Image image =
      test::screenshot(render_sweep_html("chart", {"loss.plugin", "train.learning_rate"}, cells), "sweep");
  const test::ColourStats greedy = test::find_colour(image, report_colours::kGreedyAccuracy);
  const test::ColourStats pass = test::find_colour(image, report_colours::kPassAt1);
  const test::ColourStats error_bars = test::find_colour(image, "#333333");
  std::cout << "greedy " << greedy.pixels << " pixels at row " << greedy.mean_y << ", pass@1 " << pass.pixels
            << " at row " << pass.mean_y << ", error bars " << error_bars.pixels << "\n";
  // Six bars of at least ~40 x 40 pixels each.
  EXPECT_GT(greedy.pixels, 6u * 1200u);
  EXPECT_GT(pass.pixels, 6u * 600u);
  EXPECT_LT(greedy.mean_y, pass.mean_y);
  EXPECT_GT(error_bars.pixels, 100u);
}

}  // namespace
}  // namespace genius::core
