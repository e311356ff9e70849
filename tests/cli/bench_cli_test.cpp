// End-to-end: `genius bench explore` on a tiny random model (prefix cache on
// against off, the same records), `genius bench generate`'s weight-streaming
// bound, and their refusals of bad input.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "genius_process.hpp"

namespace {

namespace fs = std::filesystem;
using genius_test::Output;
using nlohmann::json;

Output genius(const std::string& args) {
  return genius_test::run_genius(args, "", "");
}

// Once per process: arith train queries, a tiny random model and a run config
// whose foresight sampler explores two queries per call.
const fs::path& fixture() {
  static const fs::path dir = [] {
    const fs::path d = fs::temp_directory_path() / ("genius_bench_cli_" + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    EXPECT_EQ(
        genius("data arith --train 8 --eval 4 --seed 2 --levels 2-3 --out '" + (d / "data").string() + "'").exit_code,
        0);
    EXPECT_EQ(genius("init-model --arch llama --hidden 32 --layers 1 --heads 4 --seed 5 --out '" +
                     (d / "model").string() + "'")
                  .exit_code,
              0);
    std::ofstream(d / "explore.toml") << "[run]\nseed = 7\n[data]\ntrain = \"data/train.jsonl\"\n"
                                         "[model]\nplugin = \"torch-llama\"\npath = \"model\"\n"
                                         "[sampler]\nplugin = \"foresight\"\nstep_beam_size = 2\nnum_rollout = 2\n"
                                         "num_foresight = 2\nmax_step_tokens = 6\nmax_rollout_tokens = 10\n"
                                         "concurrent_queries = 2\n"
                                         "[value]\nplugin = \"foresight-logprob\"\n";
    return d;
  }();
  return dir;
}

std::string path(const std::string& name) {
  return "'" + (fixture() / name).string() + "'";
}

TEST(CliBench, ExploreComparesThePrefixCacheOnAndOff) {
  Output o = genius("bench explore " + path("explore.toml") + " --queries 4 --json");
  ASSERT_EQ(o.exit_code, 0) << o.err;
  const json j = json::parse(o.out);
  EXPECT_EQ(j["queries"].get<int>(), 4);
  EXPECT_GT(j["matmul_peak_gflops"].get<double>(), 0);
  ASSERT_TRUE(j.contains("cache_on")) << o.out;
  ASSERT_TRUE(j.contains("cache_off")) << o.out;
  const json &on = j["cache_on"], &off = j["cache_off"];
  for (const json* mode : {&on, &off}) {
    const json& m = *mode;
    EXPECT_TRUE(m["reported"].get<bool>()) << "torch-llama reports its generation stats";
    EXPECT_GT(m["generated_tokens"].get<std::int64_t>(), 0);
    EXPECT_GT(m["prefill_tokens_computed"].get<std::int64_t>(), 0);
    EXPECT_GT(m["seconds"].get<double>(), 0);
    EXPECT_GT(m["queries_per_s"].get<double>(), 0);
    EXPECT_GT(m["generated_tokens_per_s"].get<double>(), 0);
    EXPECT_GT(m["avg_live_rows"].get<double>(), 0);
    EXPECT_GT(m["kv_peak_mib"].get<double>(), 0);
    EXPECT_GT(m["matmul_peak_fraction"].get<double>(), 0);
    EXPECT_DOUBLE_EQ(m["prefill_tokens_computed_per_query"].get<double>(),
                     m["prefill_tokens_computed"].get<double>() / 4);
  }
  EXPECT_EQ(off["prefill_tokens_reused"].get<std::int64_t>(), 0) << "no cache, nothing reused";
  EXPECT_EQ(off["cache_hit_rate"].get<double>(), 0);
  EXPECT_GT(on["prefill_tokens_reused"].get<std::int64_t>(), 0) << "rollouts share their query's prompt";
  EXPECT_GT(on["cache_hit_rate"].get<double>(), 0);
  EXPECT_LE(on["prefill_tokens_computed_per_query"].get<double>(),
            off["prefill_tokens_computed_per_query"].get<double>());
  EXPECT_EQ(j["records_identical"].get<bool>(), j["records_differing"].get<int>() == 0);

  Output table = genius("bench explore " + path("explore.toml") + " --queries 2");
  ASSERT_EQ(table.exit_code, 0) << table.err;
  for (const char* text : {"cache on", "cache off", "hit rate", "live rows", "KV peak MiB", "peak RSS MiB", "records:"})
    EXPECT_NE(table.out.find(text), std::string::npos) << text << "\n" << table.out;
}

TEST(CliBench, ExploreRefusesBadInput) {
  Output o = genius("bench explore " + path("no-such.toml") + " --queries 4");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("no-such.toml"), std::string::npos) << o.err;
  EXPECT_NE(o.err.find("no such file"), std::string::npos) << o.err;
  o = genius("bench explore " + path("explore.toml") + " --queries 0");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("--queries must be >= 1, got 0"), std::string::npos) << o.err;
  o = genius("bench explore " + path("explore.toml") + " --queries many");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("--queries"), std::string::npos) << o.err;
  o = genius("bench explore");
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("missing CONFIG"), std::string::npos) << o.err;
  std::ofstream(fixture() / "no-sampler.toml") << "[data]\ntrain = \"data/train.jsonl\"\n"
                                                  "[model]\nplugin = \"torch-llama\"\npath = \"model\"\n";
  o = genius("bench explore " + path("no-sampler.toml"));
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_NE(o.err.find("needs a [sampler] section"), std::string::npos) << o.err;
  EXPECT_EQ(o.err.find("what()"), std::string::npos);
}

TEST(CliBench, GenerateShowsTheWeightStreamingBound) {
  Output b = genius("bench generate --model " + path("model") + " --batch 1 2 --prompt-tokens 8 --new-tokens 4");
  ASSERT_EQ(b.exit_code, 0) << b.err;
  EXPECT_NE(b.out.find("memory read"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("GB/s"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("bound tok/s"), std::string::npos) << b.out;
  EXPECT_NE(b.out.find("% of bound"), std::string::npos) << b.out;
  Output bad = genius("bench frobnicate --model " + path("model"));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("genius bench explore"), std::string::npos) << bad.err;
}

}  // namespace
