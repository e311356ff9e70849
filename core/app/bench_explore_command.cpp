// genius bench explore CONFIG [--queries N] [--json] [--set SECTION.KEY=VALUE]...
//
// The run's exploration, measured: the first N train queries of the config
// (with the seeds iteration 1 of a run gives them) explored by the configured
// sampler and value estimator in the run's chunks (queries_per_call), twice in
// this process: with the policy loaded with [model] prefix_cache = true, then
// with a fresh policy and prefix_cache = false. Prints per mode the
// throughput, the prefill tokens computed and reused per query, the cache hit
// rate, the decode batch (live rows), key/value and process memory peaks and
// the share of the machine's matmul peak, and whether both modes wrote the
// same records (the cache must not change what is explored).
#include <chrono>
#include <cstdio>
#include <iostream>

#include <ATen/Parallel.h>
#include <nlohmann/json.hpp>

#include <genius/sdk.hpp>

#include "bench.hpp"
#include "cli.hpp"
#include "config/config.hpp"
#include "io/cpu_threads.hpp"
#include "io/errors.hpp"
#include "io/process_memory.hpp"
#include "io/records_io.hpp"
#include "plugins/checked_backend.hpp"
#include "plugins/checked_sampler.hpp"
#include "plugins/model_pool.hpp"
#include "plugins/plugin_registry.hpp"
#include "run/generation_meter.hpp"
#include "run/run_driver.hpp"

namespace genius::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The config, its plugins and the queries to explore.
struct Setup {
  std::string file;
  std::vector<std::string> overrides;
  std::optional<core::PluginRegistry> registry;
  std::optional<core::ResolvedConfig> config;
  std::vector<Query> queries;
};

Setup prepare(const po::variables_map& vm) {
  Setup s;
  s.file = vm["file"].as<std::string>();
  if (vm.count("set")) s.overrides = vm["set"].as<std::vector<std::string>>();
  const core::RawConfig raw = core::RawConfig::load(s.file, s.overrides);
  s.registry.emplace(core::discover_plugins(raw.plugin_path()));
  s.registry->throw_if_errors();
  s.config.emplace(core::validate(raw, *s.registry));
  const core::ResolvedConfig& config = *s.config;
  auto refuse = [&](const std::string& key, const std::string& message) {
    throw core::ConfigValidationError({{{config.file().string(), 0, 0}, key, message}});
  };
  for (PluginKind kind : {PluginKind::ModelBackend, PluginKind::Sampler, PluginKind::ValueEstimator})
    if (config.plugin(config_section(kind)).empty())
      refuse(config_section(kind),
             "bench explore needs a [" + std::string(config_section(kind)) + "] section with plugin = \"...\"");
  if (!plugin_declares_key(*s.registry, PluginKind::ModelBackend, config.plugin("model"), "prefix_cache"))
    refuse("model", "bench explore compares [model] prefix_cache = true and false, and the backend '" +
                        config.plugin("model") + "' has no prefix_cache key");
  if (config.view("data").get<std::string>("train").empty())
    refuse("data.train", "bench explore explores the queries of [data] train, which is not set");
  s.queries = core::explore_queries(config, 1);
  const auto n = static_cast<std::size_t>(vm["queries"].as<int>());
  if (s.queries.size() > n) s.queries.resize(n);
  if (s.queries.empty()) refuse("data.train", "no train queries to explore");
  return s;
}

// One mode's exploration of every query, and what it cost.
struct ModeResult {
  double seconds = 0, peak_rss_mib = 0;
  std::int64_t parameters = 0;
  std::size_t queries_per_call = 1;
  core::GenerationDelta generation;
  std::vector<std::string> records;  ///< serialized, in query order
  std::vector<std::string> texts;    ///< what was explored, without the floats
};

// The texts and choices of a record: what differs when a token does, not
// when a log-prob moves in its last bits.
std::string text_signature(const ExplorationRecord& record) {
  json j = {{"response", record.response}, {"tokens", record.generated_tokens}, {"steps", json::array()}};
  for (const StepRecord& step : record.steps) {
    json trajectories = json::array();
    for (const Candidate& c : step.candidates) trajectories.push_back(c.trajectory);
    j["steps"].push_back({{"beams", step.beams}, {"selected", step.selected}, {"trajectories", trajectories}});
  }
  return j.dump();
}

ModeResult explore_once(const Setup& s, bool prefix_cache) {
  std::vector<std::string> overrides = s.overrides;
  overrides.push_back(std::string("model.prefix_cache=") + (prefix_cache ? "true" : "false"));
  const core::ResolvedConfig config = core::validate(core::RawConfig::load(s.file, overrides), *s.registry);
  const core::PluginRegistry& registry = *s.registry;
  core::reset_peak_rss();
  core::CheckedBackend policy(core::create_configured<ModelBackend>(registry, config, PluginKind::ModelBackend));
  auto sampler = core::create_configured<Sampler>(registry, config, PluginKind::Sampler);
  auto values = core::create_configured<ValueEstimator>(registry, config, PluginKind::ValueEstimator);
  core::ModelPool models(registry, config);
  models.attach(*sampler, "sampler");
  models.attach(*values, "value");
  policy.set_training(false);
  if (core::CheckedBackend* critic = models.find("critic")) critic->set_training(false);

  ModeResult result;
  result.parameters = parameter_count(policy);
  const core::GenerationMeter meter(policy);
  const std::size_t per_call = result.queries_per_call = std::max<std::size_t>(1, sampler->queries_per_call());
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < s.queries.size(); i += per_call) {
    const std::vector<Query> chunk(s.queries.begin() + std::ptrdiff_t(i),
                                   s.queries.begin() + std::ptrdiff_t(std::min(s.queries.size(), i + per_call)));
    for (const ExplorationRecord& record : core::explore_checked(*sampler, chunk, policy, *values)) {
      result.records.push_back(core::to_json(record).dump());
      result.texts.push_back(text_signature(record));
    }
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.generation = meter.delta();
  result.peak_rss_mib = core::peak_rss_mib().value_or(0.0);
  return result;
}

json mode_json(const ModeResult& r, std::size_t queries, double matmul_peak_gflops) {
  const core::GenerationDelta& g = r.generation;
  // A backend that does not count prefills computes every prompt token.
  const std::int64_t computed = g.stats ? g.stats->prompt_tokens_computed : g.prompt_tokens;
  const std::int64_t reused = g.stats ? g.stats->prompt_tokens_reused : 0;
  const double q = double(queries), seconds = std::max(r.seconds, 1e-9);
  const double gflops = 2.0 * double(r.parameters) * double(computed + g.generated_tokens) / seconds / 1e9;
  return {{"reported", g.stats.has_value()},
          {"seconds", r.seconds},
          {"queries_per_s", q / seconds},
          {"generated_tokens", g.generated_tokens},
          {"generated_tokens_per_s", double(g.generated_tokens) / seconds},
          {"generate_calls", g.calls},
          {"prompt_tokens", g.prompt_tokens},
          {"prefill_tokens_computed", computed},
          {"prefill_tokens_reused", reused},
          {"prefill_tokens_computed_per_query", double(computed) / q},
          {"prefill_tokens_reused_per_query", double(reused) / q},
          {"cache_hit_rate", g.prefix_cache_hit_rate()},
          {"decode_steps", g.stats ? g.stats->decode_steps : 0},
          {"avg_live_rows", g.avg_live_rows()},
          {"kv_peak_mib", g.kv_peak_mib()},
          {"prefix_cache_evicted_tokens", g.stats ? g.stats->prefix_cache_evicted_tokens : 0},
          {"peak_rss_mib", r.peak_rss_mib},
          {"matmul_peak_fraction", matmul_peak_gflops > 0 ? gflops / matmul_peak_gflops : 0.0}};
}

void print_table(const json& j, const Setup& s, const ModeResult& on) {
  const core::ResolvedConfig& config = *s.config;
  std::printf(
      "%s: %zu queries in chunks of %zu, sampler %s, value %s; policy %.2fM parameters, %d threads; "
      "measured matmul peak %.1f GFLOP/s\n",
      j["config"].get<std::string>().c_str(), s.queries.size(), on.queries_per_call, config.plugin("sampler").c_str(),
      config.plugin("value").c_str(), double(on.parameters) / 1e6, at::get_num_threads(),
      j["matmul_peak_gflops"].get<double>());
  std::printf("%-10s %10s %11s %12s %12s %9s %10s %12s %13s %10s\n", "mode", "queries/s", "gen tok/s", "computed/q",
              "reused/q", "hit rate", "live rows", "KV peak MiB", "peak RSS MiB", "% of peak");
  for (const char* mode : {"cache_on", "cache_off"}) {
    const json& m = j[mode];
    std::printf("%-10s %10.2f %11.1f %12.1f %12.1f %8.1f%% %10.2f %12.1f %13.1f %9.2f%%\n",
                mode == std::string("cache_on") ? "cache on" : "cache off", m["queries_per_s"].get<double>(),
                m["generated_tokens_per_s"].get<double>(), m["prefill_tokens_computed_per_query"].get<double>(),
                m["prefill_tokens_reused_per_query"].get<double>(), 100 * m["cache_hit_rate"].get<double>(),
                m["avg_live_rows"].get<double>(), m["kv_peak_mib"].get<double>(), m["peak_rss_mib"].get<double>(),
                100 * m["matmul_peak_fraction"].get<double>());
    if (!m["reported"].get<bool>())
      std::printf("%-10s (the backend reports no generation stats: prefill, rows and KV are unknown)\n", "");
  }
  if (j["records_identical"].get<bool>())
    std::printf("records: identical in both modes (%zu)\n", s.queries.size());
  else
    std::printf(
        "records: %d of %zu differ between the modes, %d of them in a text or a choice (the rest in "
        "float rounding of log-probs and scores)\n",
        j["records_differing"].get<int>(), s.queries.size(), j["records_differing_in_text"].get<int>());
}

}  // namespace

int bench_explore_command(const std::vector<std::string>& args) {
  po::options_description options("Options");
  options.add_options()("file", po::value<std::string>(), "run config (as for `genius run`)")(
      "queries", po::value<int>()->default_value(64), "explore the first N train queries")(
      "set", po::value<std::vector<std::string>>()->value_name("SECTION.KEY=VALUE"), "override a key (repeatable)")(
      "json", "print the result as one JSON object");
  po::positional_options_description positional;
  positional.add("file", 1);
  const Parsed vm = parse("bench explore", "CONFIG [--queries N] [--json] [--set SECTION.KEY=VALUE]...", args, options,
                          positional, [](const po::variables_map& given) {
                            if (!given.count("file")) throw po::error("missing CONFIG");
                            check_range(given, "queries", 1);
                          });
  if (!vm) return vm.exit_code;
  Setup setup;
  try {
    setup = prepare(*vm);
  } catch (const std::exception& e) {
    std::cerr << core::describe(e) << "\n";
    return core::kExitUsageError;
  }
  if (const int threads = setup.config->view("run").get<int>("threads"); threads > 0) core::set_cpu_threads(threads);
  try {
    const ConfigView model = setup.config->view("model");
    const double peak = measured_matmul_gflops(model.contains("device") ? model.get<std::string>("device") : "cpu",
                                               model.contains("dtype") ? model.get<std::string>("dtype") : "float32");
    const ModeResult on = explore_once(setup, true);
    const ModeResult off = explore_once(setup, false);
    int differing = 0, text_differing = 0;
    for (std::size_t i = 0; i < on.records.size(); ++i) {
      differing += (i >= off.records.size() || on.records[i] != off.records[i]) ? 1 : 0;
      text_differing += (i >= off.texts.size() || on.texts[i] != off.texts[i]) ? 1 : 0;
    }
    const std::size_t n = setup.queries.size();
    const json j = {{"config", fs::absolute(setup.file).string()},
                    {"queries", n},
                    {"matmul_peak_gflops", peak},
                    {"cache_on", mode_json(on, n, peak)},
                    {"cache_off", mode_json(off, n, peak)},
                    {"records_identical", differing == 0 && on.records.size() == off.records.size()},
                    {"records_differing", differing},
                    {"records_differing_in_text", text_differing}};
    if (vm->count("json"))
      std::cout << j.dump(2) << "\n";
    else
      print_table(j, setup, on);
  } catch (const std::exception& e) {
    std::cerr << core::describe(e) << "\n";
    return core::kExitRunFailed;
  }
  return core::kExitOk;
}

}  // namespace genius::cli
