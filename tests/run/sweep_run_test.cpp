// `genius sweep` end to end on a tiny random model (made by `genius
// init-model`): exploration shared between loss-only cells, the tables
// against the cells' own summary.json, --dry-run, a failing cell, and a sweep
// killed with SIGKILL and resumed.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <map>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <genius/helpers/atomic_file.hpp>

#include "csv.hpp"
#include "genius_process.hpp"
#include "test_support.hpp"

namespace genius {
namespace {

namespace fs = std::filesystem;
using genius_test::Output;
using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

// One iteration on six queries with a few tokens per step: seconds per cell.
const char* kBase = R"([run]
iterations = 1
log_level = "warn"

[data]
train = "train.jsonl"
eval = "eval.jsonl"
extra_eval = ["more.jsonl"]

[model]
plugin = "torch-llama"
path = "model"

[sampler]
plugin = "foresight"
step_beam_size = 2
num_rollout = 2
num_foresight = 2
max_step_tokens = 6
max_rollout_tokens = 10
concurrent_queries = 3

[value]
plugin = "foresight-logprob"

[loss]
plugin = "dpo"

[train]
learning_rate = 1e-3
batch_size = 2

[eval]
samples = 2
max_new_tokens = 8
)";

class SweepRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = test::scratch_dir("genius_sweep_run", "task");
    fs::create_directories(dir_);
    test::init_model(dir_ / "model", "--arch llama --hidden 32 --layers 2 --heads 4 --kv-heads 2 --seed 1");
    std::string train, eval;
    for (int i = 0; i < 6; ++i) {
      const int a = 1 + (i * 5) % 9, b = 1 + (i * 7) % 9;
      train += json{{"id", "t" + std::to_string(i)}, {"instruction", std::to_string(a) + "+" + std::to_string(b) + "="}}
                   .dump() +
               "\n";
      if (i < 4)
        eval +=
            json{{"instruction", std::to_string(b) + "+" + std::to_string(a) + "="}, {"answer", std::to_string(a + b)}}
                .dump() +
            "\n";
    }
    write_file_atomic(dir_ / "train.jsonl", train);
    write_file_atomic(dir_ / "eval.jsonl", eval);
    write_file_atomic(dir_ / "more.jsonl", eval);
    write_file_atomic(dir_ / "base.toml", kBase);
  }

  // A sweep file beside base.toml.
  static fs::path sweep(const std::string& name, const std::string& text) {
    write_file_atomic(dir_ / (name + ".toml"), "[sweep]\nbase = \"base.toml\"\n" + text);
    return dir_ / (name + ".toml");
  }

  static Output genius(const std::string& args) { return genius_test::run_genius(args); }

  static inline fs::path dir_;
};

json read_json(const fs::path& file) {
  return json::parse(read_file(file));
}

std::vector<std::map<std::string, std::string>> csv_rows(const fs::path& file) {
  return test::parse_csv(read_file(file));
}

// The explore stage's "generation" accounting (docs/run-directory.md) of a
// cell that explored itself: in state.json, in metrics.jsonl and in
// report.html, consistent with the host's own counts.
void expect_generation_accounting(const fs::path& cell) {
  const json explore = read_json(cell / "state.json")["stages"]["explore-1"];
  ASSERT_TRUE(explore.contains("generation")) << explore.dump();
  const json& g = explore["generation"];
  EXPECT_TRUE(g["reported"].get<bool>()) << "torch-llama reports its generation stats: " << g.dump();
  EXPECT_EQ(g["calls"], explore["generate_calls"]);
  EXPECT_EQ(g["prompt_tokens"], explore["prompt_tokens"]);
  EXPECT_GT(g["calls"].get<std::int64_t>(), 0);
  EXPECT_GT(g["prompt_tokens"].get<std::int64_t>(), 0);
  EXPECT_EQ(g["generated_tokens"].get<std::int64_t>(), explore["generated_tokens"].get<std::int64_t>())
      << "the engine's count is the records' count";
  const auto computed = g.value("prompt_tokens_computed", std::int64_t{-1});
  const auto reused = g.value("prompt_tokens_reused", std::int64_t{-1});
  EXPECT_GT(computed, 0);
  EXPECT_GE(reused, 0);
  if (computed + reused > 0) {
    EXPECT_NEAR(g.value("prefix_cache_hit_rate", -1.0), double(reused) / double(computed + reused), 1e-12);
  }
  EXPECT_GT(g.value("decode_steps", std::int64_t{0}), 0);
  EXPECT_GT(g.value("avg_live_rows", 0.0), 0);
  EXPECT_GT(g.value("kv_peak_mib", 0.0), 0);
  EXPECT_GE(g.value("prefix_cache_evicted_tokens", std::int64_t{-1}), 0);
  bool in_metrics = false;
  std::istringstream metrics(read_file(cell / "metrics.jsonl"));
  for (std::string line; std::getline(metrics, line);) {
    const json r = json::parse(line);
    if (r["kind"] == "explore" && r["iteration"] == 1) in_metrics = r["generation"] == g;
  }
  EXPECT_TRUE(in_metrics) << "metrics.jsonl has the explore line with its generation object";
  const std::string report = read_file(cell / "report.html");
  EXPECT_THAT(report, HasSubstr("Exploration: generation by iteration"));
  EXPECT_THAT(report, HasSubstr("<td>1</td><td>policy</td>"));
}

TEST_F(SweepRun, LossOnlyCellsExploreOncePerSeedAndTheTablesMatchTheCells) {
  const fs::path file = sweep("losses", R"(seeds = [1, 2]
[[sweep.axis]]
key = "loss.plugin"
values = ["dpo", "simpo"]
)");
  const fs::path out = dir_ / "losses-out";
  const Output o = genius("sweep '" + file.string() + "' --out '" + out.string() + "' --jobs 2");
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;

  for (int seed : {1, 2}) {
    const fs::path explorer = out / ("loss.plugin=dpo,seed=" + std::to_string(seed));
    const fs::path sharer = out / ("loss.plugin=simpo,seed=" + std::to_string(seed));
    const json explorer_stages = read_json(explorer / "state.json")["stages"];
    const json sharer_stages = read_json(sharer / "state.json")["stages"];
    EXPECT_FALSE(explorer_stages["explore-1"].contains("shared_from"));
    expect_generation_accounting(explorer);
    EXPECT_EQ(sharer_stages["explore-1"]["shared_from"], explorer.filename().string());
    EXPECT_EQ(sharer_stages["eval-0"]["shared_from"], explorer.filename().string());
    EXPECT_GT(sharer_stages["explore-1"]["generated_tokens"].get<std::int64_t>(), 0);
    // Only the explorer's log has the exploration in it.
    EXPECT_THAT(read_file(explorer / "genius.log"), HasSubstr("explore 1:"));
    EXPECT_THAT(read_file(sharer / "genius.log"), Not(HasSubstr("explore 1:")));
    EXPECT_EQ(read_file(sharer / "iter-1/records.jsonl"), read_file(explorer / "iter-1/records.jsonl"));
    EXPECT_EQ(read_file(sharer / "iter-1/pairs.jsonl"), read_file(explorer / "iter-1/pairs.jsonl"));
    // The base evaluation's extra_eval file comes with it, and its metrics are in the shared record.
    EXPECT_EQ(read_file(sharer / "iter-0/eval-more.jsonl"), read_file(explorer / "iter-0/eval-more.jsonl"));
    EXPECT_TRUE(sharer_stages["eval-0"].contains("more/greedy_accuracy"));
    EXPECT_EQ(read_json(sharer / "summary.json")["status"], "finished");
    EXPECT_THAT(read_file(sharer / "config.resolved.toml"), HasSubstr("plugin = \"simpo\""));
    EXPECT_THAT(read_file(sharer / "config.resolved.toml"), HasSubstr("seed = " + std::to_string(seed)));
  }
  EXPECT_NE(read_file(out / "loss.plugin=dpo,seed=1/iter-1/records.jsonl"),
            read_file(out / "loss.plugin=dpo,seed=2/iter-1/records.jsonl"))
      << "another seed explores anew";

  // The group rows: mean and sample std over the seeds' final evaluations,
  // computed here from the cells' summary.json.
  const auto rows = csv_rows(out / "sweep.csv");
  ASSERT_EQ(rows.size(), 2u + 4u);
  for (std::size_t g = 0; g < 2; ++g) {
    const std::string loss = g == 0 ? "dpo" : "simpo";
    const auto& row = rows[g];
    EXPECT_EQ(row.at("row"), "group");
    EXPECT_EQ(row.at("loss.plugin"), loss);
    EXPECT_EQ(row.at("n"), "2");
    for (const char* metric : {"greedy_accuracy", "pass@1"}) {
      std::vector<double> xs;
      for (int seed : {1, 2}) {
        const json summary =
            read_json(out / ("loss.plugin=" + loss + ",seed=" + std::to_string(seed)) / "summary.json");
        EXPECT_EQ(summary["eval"].back()["iteration"], 1);
        xs.push_back(summary["eval"].back()[metric].get<double>());
      }
      const double mean = (xs[0] + xs[1]) / 2;
      const double sd = std::sqrt((xs[0] - mean) * (xs[0] - mean) + (xs[1] - mean) * (xs[1] - mean));
      EXPECT_NEAR(std::stod(row.at(std::string(metric) + "_mean")), mean, 1e-9) << loss << " " << metric;
      EXPECT_NEAR(std::stod(row.at(std::string(metric) + "_std")), sd, 1e-9) << loss << " " << metric;
    }
  }
  EXPECT_EQ(rows[2].at("name"), "loss.plugin=dpo,seed=1");
  EXPECT_EQ(rows[3].at("explored_by"), "") << "dpo, seed 2 explores for simpo, seed 2";
  EXPECT_EQ(rows[5].at("explored_by"), "loss.plugin=dpo,seed=2");
  // Tokens: a cell's own exploration and evaluations are sampled, the
  // stages it took from another cell are saved.
  auto tokens = [&](const std::string& cell, bool shared) {
    std::int64_t n = 0;
    const json stages = read_json(out / cell / "summary.json")["stages"];
    for (const auto& [stage, info] : stages.items())
      if (info.contains("shared_from") == shared) n += info.value("generated_tokens", std::int64_t{0});
    return n;
  };
  EXPECT_EQ(rows[0].at("tokens_sampled"),
            std::to_string(tokens("loss.plugin=dpo,seed=1", false) + tokens("loss.plugin=dpo,seed=2", false)));
  EXPECT_EQ(rows[1].at("tokens_sampled"),
            std::to_string(tokens("loss.plugin=simpo,seed=1", false) + tokens("loss.plugin=simpo,seed=2", false)));
  const json explorer = read_json(out / "loss.plugin=dpo,seed=2/state.json")["stages"];
  EXPECT_EQ(tokens("loss.plugin=simpo,seed=2", true), explorer["explore-1"]["generated_tokens"].get<std::int64_t>() +
                                                          explorer["eval-0"]["generated_tokens"].get<std::int64_t>());
  EXPECT_EQ(rows[5].at("tokens_saved"), std::to_string(tokens("loss.plugin=simpo,seed=2", true)));
  EXPECT_THAT(read_file(out / "sweep.md"), HasSubstr("2 cells reused another cell's iteration-1 exploration"));
  EXPECT_THAT(read_file(out / "sweep.html"), HasSubstr("<svg"));
  const json state = read_json(out / "sweep.json");
  EXPECT_EQ(state["status"], "finished");
  for (const json& c : state["cells"]) EXPECT_EQ(c["attempts"], 1) << c.dump();

  // The same directory again: refused without --resume; with it, nothing reruns.
  EXPECT_EQ(genius("sweep '" + file.string() + "' --out '" + out.string() + "'").exit_code, 2);
  const Output again = genius("sweep '" + file.string() + "' --out '" + out.string() + "' --resume");
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.err, HasSubstr("loss.plugin=simpo,seed=2: finished already, skipped"));
  const json sweep_state = read_json(out / "sweep.json");  // a range-for over a temporary's member would dangle
  for (const json& c : sweep_state["cells"]) EXPECT_EQ(c["attempts"], 1) << c.dump();

  // A changed config is not mixed into finished cells.
  const fs::path changed =
      sweep("losses-changed", read_file(file).substr(std::string("[sweep]\nbase = \"base.toml\"\n").size()) +
                                  "[set]\n\"train.learning_rate\" = 0.01\n");
  const Output refused = genius("sweep '" + changed.string() + "' --out '" + out.string() + "' --resume");
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_THAT(refused.err, HasSubstr("the config of 4 cell(s) differs"));
}

TEST_F(SweepRun, DryRunPrintsTheGridAndRunsNothing) {
  const fs::path file = sweep("dry", R"(seeds = [1, 2]
[[sweep.axis]]
key = "loss.plugin"
values = ["dpo", "sft"]
[[sweep.axis]]
key = "sampler.num_rollout"
values = [2, 3]
)");
  const fs::path out = dir_ / "dry-out";
  const Output o = genius("sweep '" + file.string() + "' --out '" + out.string() + "' --dry-run");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  EXPECT_THAT(o.out, HasSubstr("sweep dry: 8 cells"));
  EXPECT_THAT(o.out, HasSubstr("\n   1  loss.plugin=dpo,sampler.num_rollout=2,seed=1 explores\n"));
  EXPECT_THAT(o.out, HasSubstr("\n   4  loss.plugin=dpo,sampler.num_rollout=3,seed=2 explores\n"));
  EXPECT_THAT(o.out, HasSubstr("\n   5  loss.plugin=sft,sampler.num_rollout=2,seed=1 shares exploration with "
                               "loss.plugin=dpo,sampler.num_rollout=2,seed=1\n"));
  EXPECT_THAT(o.out, HasSubstr("4 explorations for 8 cells; 4 cells reuse"));
  EXPECT_FALSE(fs::exists(out));

  // A bad value fails the whole sweep up front, naming the sweep file.
  const fs::path bad = sweep("bad", "[[sweep.axis]]\nkey = \"loss.plugin\"\nvalues = [\"dpo\", \"simpoo\"]\n");
  const Output b = genius("sweep '" + bad.string() + "' --out '" + (dir_ / "bad-out").string() + "'");
  EXPECT_EQ(b.exit_code, 2);
  EXPECT_THAT(b.err, HasSubstr("bad.toml:5:18: loss.plugin: no loss plugin named 'simpoo'; did you mean 'simpo'?"));
  EXPECT_FALSE(fs::exists(dir_ / "bad-out"));
  const Output check = genius("config check '" + bad.string() + "'");
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_THAT(check.err, HasSubstr("did you mean 'simpo'?"));
  EXPECT_THAT(genius("config check '" + file.string() + "'").out, HasSubstr("ok (sweep of 8 cells)"));
}

TEST_F(SweepRun, AFailingCellIsReportedAndTheOthersFinish) {
  // A model path that validates but cannot be loaded fails only its cell.
  const fs::path file = sweep("failing", R"([[sweep.axis]]
key = "model.path"
values = ["no-such-model", "model"]
)");
  const fs::path out = dir_ / "failing-out";
  const Output o = genius("sweep '" + file.string() + "' --out '" + out.string() + "'");
  EXPECT_EQ(o.exit_code, 1) << o.out << o.err;
  EXPECT_THAT(o.err, HasSubstr("model.path=no-such-model: FAILED (exit 2)"));  // a missing model: bad input
  EXPECT_THAT(o.err, HasSubstr("1 of 2 cells failed"));
  const json state = read_json(out / "sweep.json");
  EXPECT_EQ(state["status"], "failed");
  EXPECT_EQ(state["cells"][0]["status"], "failed");
  EXPECT_EQ(state["cells"][0]["exit_code"], 2);
  EXPECT_EQ(state["cells"][1]["status"], "finished");
  EXPECT_THAT(read_file(out / "model.path=no-such-model/cell.log"), HasSubstr("no-such-model"));
  const auto rows = csv_rows(out / "sweep.csv");
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows[2].at("status"), "failed");
  EXPECT_EQ(rows[3].at("status"), "finished");
  EXPECT_NE(rows[1].at("greedy_accuracy_mean"), "");
}

TEST_F(SweepRun, AKilledSweepResumesWithoutRerunningFinishedCells) {
  const fs::path file = sweep("killed", R"(seeds = [1]
[[sweep.axis]]
key = "loss.plugin"
values = ["dpo", "simpo", "ipo"]
)");
  const fs::path out = dir_ / "killed-out";
  const fs::path first = out / "loss.plugin=dpo,seed=1", second = out / "loss.plugin=simpo,seed=1";
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    ::dup2(null, 1);
    ::dup2(null, 2);
    ::execl(GENIUS_BINARY, "genius", "sweep", file.c_str(), "--out", out.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  // Kill the sweep as soon as the second cell has started its run.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  bool killed = false;
  while (std::chrono::steady_clock::now() < deadline) {
    if (fs::exists(second / "config.resolved.toml")) {
      killed = ::kill(pid, SIGKILL) == 0;
      break;
    }
    if (::waitpid(pid, nullptr, WNOHANG) == pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // a loss-only cell is short
  }
  ::waitpid(pid, nullptr, 0);
  ASSERT_TRUE(killed) << "the sweep ended before its second cell started";
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the cell's process dies with the sweep
  ASSERT_EQ(read_json(first / "summary.json")["status"], "finished");
  // The second cell may not have written its summary yet: absent or unfinished both leave work to resume.
  if (fs::exists(second / "summary.json")) {
    ASSERT_NE(read_json(second / "summary.json")["status"], "finished") << "killed too late to test resuming";
  }
  const auto first_mtime = fs::last_write_time(first / "summary.json");

  const Output o = genius("sweep '" + file.string() + "' --out '" + out.string() + "' --resume");
  ASSERT_EQ(o.exit_code, 0) << o.out << o.err;
  EXPECT_THAT(o.err, HasSubstr("loss.plugin=dpo,seed=1: finished already, skipped"));
  EXPECT_THAT(o.err, HasSubstr("loss.plugin=simpo,seed=1: resumed"));
  EXPECT_EQ(fs::last_write_time(first / "summary.json"), first_mtime) << "the finished cell did not run again";
  const json state = read_json(out / "sweep.json");
  EXPECT_EQ(state["status"], "finished");
  std::map<std::string, int> attempts;
  for (const json& c : state["cells"]) {
    attempts[c["name"]] = c["attempts"];
    EXPECT_EQ(c["status"], "finished");
  }
  EXPECT_EQ(attempts["loss.plugin=dpo,seed=1"], 1);
  EXPECT_EQ(attempts["loss.plugin=simpo,seed=1"], 2);
  EXPECT_EQ(attempts["loss.plugin=ipo,seed=1"], 1);
  for (const fs::path& cell : {second, out / "loss.plugin=ipo,seed=1"})
    EXPECT_EQ(read_file(cell / "iter-1/records.jsonl"), read_file(first / "iter-1/records.jsonl"));
  EXPECT_EQ(csv_rows(out / "sweep.csv").size(), 6u);
}

}  // namespace
}  // namespace genius
