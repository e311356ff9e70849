// genius decode CONFIG [--iteration N] [--set ...] [--out DIR] [--json]
//
// Test-time decoding (docs/decoding.md): the configured [sampler] (with its
// [value] estimator and, when they ask for one, the [critic]) answers every
// item of [data] eval, and its chosen response is scored against the item's
// label. A decoding method is a sampler config: greedy (best-of-n, n = 1,
// temperature 0), majority@N (self-consistency), critic-filtered majority@N
// (critique-refine, rounds = 0), critic best-of-N (best-of-n + the critic
// value), critique-refine, Genius foresight, phi-Decoding. Reports accuracy
// (overall and per level) and the cost: tokens each model generated,
// prefilled and scored, and FLOPs ~ 2 x parameters x tokens, per model.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>

#include <ATen/Parallel.h>
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <genius/helpers/atomic_file.hpp>
#include <genius/sdk.hpp>

#include "cli.hpp"
#include "config/config.hpp"
#include "eval/evaluator.hpp"
#include "io/cpu_threads.hpp"
#include "io/errors.hpp"
#include "io/jsonl.hpp"
#include "io/progress.hpp"
#include "io/records_io.hpp"
#include "plugins/checked_backend.hpp"
#include "plugins/checked_sampler.hpp"
#include "plugins/model_pool.hpp"
#include "plugins/plugin_registry.hpp"
#include "run/run_directory.hpp"

namespace genius::cli {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::int64_t parameter_count(ModelBackend& model) {
  std::int64_t n = 0;
  for (const at::Tensor& p : model.parameters()) n += p.numel();
  return n;
}

// A model's share of the cost: its tokens and FLOPs ~ 2 * parameters * tokens.
json model_cost(core::CheckedBackend& model, std::size_t queries) {
  const std::int64_t params = parameter_count(model);
  const std::int64_t tokens = model.generated_tokens() + model.prompt_tokens() + model.scored_tokens();
  const double q = static_cast<double>(std::max<std::size_t>(1, queries));
  return {{"parameters", params},
          {"generated_tokens", model.generated_tokens()},
          {"prompt_tokens", model.prompt_tokens()},
          {"scored_tokens", model.scored_tokens()},
          {"generate_calls", model.generate_calls()},
          {"generated_per_query", double(model.generated_tokens()) / q},
          {"prompt_per_query", double(model.prompt_tokens()) / q},
          {"scored_per_query", double(model.scored_tokens()) / q},
          {"flops", 2.0 * double(params) * double(tokens)}};
}

struct LevelTally {
  std::size_t items = 0, correct = 0;
};

void print_summary(const json& s) {
  std::printf("\n%s on %zu items: accuracy %.1f%% (answered %.1f%%), %.1f s\n", s["method"].get<std::string>().c_str(),
              s["items"].get<std::size_t>(), 100 * s["accuracy"].get<double>(), 100 * s["answered"].get<double>(),
              s["seconds"].get<double>());
  std::printf("%-8s %7s %9s\n", "level", "items", "accuracy");
  for (const auto& [level, t] : s["by_level"].items())
    std::printf("%-8s %7zu %8.1f%%\n", level.c_str(), t["items"].get<std::size_t>(), 100 * t["accuracy"].get<double>());
  std::printf("%-8s %14s %14s %14s %12s\n", "model", "generated/q", "prefilled/q", "scored/q", "FLOPs/q");
  for (const char* role : {"actor", "critic"}) {
    if (!s.contains(role)) continue;
    const json& m = s[role];
    std::printf("%-8s %14.1f %14.1f %14.1f %12.3g\n", role, m["generated_per_query"].get<double>(),
                m["prompt_per_query"].get<double>(), m["scored_per_query"].get<double>(),
                m["flops"].get<double>() / double(std::max<std::size_t>(1, s["items"].get<std::size_t>())));
  }
  std::printf("total FLOPs %.3g\n", s["flops"].get<double>());
}

// What decoding the items gave: one JSON line per item and the counts.
struct Tally {
  std::vector<json> lines;
  std::map<std::string, LevelTally> levels;
  std::size_t correct = 0, answered = 0;
  double seconds = 0;
};

Tally decode_all(Sampler& sampler, ValueEstimator& values, core::CheckedBackend& policy,
                 const std::vector<core::EvalItem>& items, const core::AnswerJudge& judge, std::uint64_t seed) {
  std::vector<Query> queries;
  for (const core::EvalItem& item : items)
    queries.push_back({item.id, item.instruction, core::query_seed(seed, 0, "decode:" + item.id)});
  const std::size_t per_call = std::max<std::size_t>(1, sampler.queries_per_call());
  Tally tally;
  core::Progress progress("decode", static_cast<std::int64_t>(queries.size()), "items");
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t i = 0; i < queries.size(); i += per_call) {
    const std::vector<Query> chunk(queries.begin() + std::ptrdiff_t(i),
                                   queries.begin() + std::ptrdiff_t(std::min(queries.size(), i + per_call)));
    const auto records = core::explore_checked(sampler, chunk, policy, values);
    for (std::size_t k = 0; k < records.size(); ++k) {
      const core::EvalItem& item = items[i + k];
      const auto [answer, right] = judge(item, records[k].response);
      tally.correct += right;
      tally.answered += answer.has_value();
      LevelTally& t = tally.levels[item.level ? std::to_string(*item.level) : "-"];
      ++t.items, t.correct += right;
      tally.lines.push_back({{"id", item.id},
                             {"level", item.level ? json(*item.level) : json(nullptr)},
                             {"reference", item.reference},
                             {"answer", answer ? json(*answer) : json(nullptr)},
                             {"correct", right},
                             {"generated_tokens", records[k].generated_tokens},
                             {"response", records[k].response}});
    }
    progress.update(static_cast<std::int64_t>(std::min(queries.size(), i + per_call)));
  }
  progress.finish();
  tally.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return tally;
}

json summarize(const core::ResolvedConfig& config, const Tally& tally, std::size_t items, core::CheckedBackend& policy,
               core::CheckedBackend* critic) {
  const double n = static_cast<double>(std::max<std::size_t>(1, items));
  json summary = {{"method", config.plugin("sampler") + " + " + config.plugin("value")},
                  {"config", fs::absolute(config.file()).string()},
                  {"items", items},
                  {"accuracy", double(tally.correct) / n},
                  {"answered", double(tally.answered) / n},
                  {"seconds", tally.seconds},
                  {"actor", model_cost(policy, items)}};
  summary["by_level"] = json::object();
  for (const auto& [level, t] : tally.levels)
    summary["by_level"][level] = {{"items", t.items}, {"accuracy", double(t.correct) / double(t.items)}};
  double flops = summary["actor"]["flops"].get<double>();
  if (critic) {
    summary["critic"] = model_cost(*critic, items);
    flops += summary["critic"]["flops"].get<double>();
  }
  summary["flops"] = flops;
  return summary;
}

// The validated config, its plugins and the items to answer.
struct Loaded {
  std::optional<core::PluginRegistry> registry;
  std::optional<core::ResolvedConfig> config;
  std::vector<core::EvalItem> items;
  core::EvalOptions eval;
  std::optional<core::AnswerJudge> judge;  ///< each item's checker (docs/data.md)
};

Loaded load(const po::variables_map& vm) {
  Loaded in;
  const auto overrides = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  const core::RawConfig raw = core::RawConfig::load(vm["file"].as<std::string>(), overrides);
  in.registry.emplace(core::discover_plugins(raw.plugin_path()));
  in.registry->throw_if_errors();
  in.config.emplace(core::validate(raw, *in.registry));
  const core::ResolvedConfig& config = *in.config;
  for (PluginKind kind : {PluginKind::ModelBackend, PluginKind::Sampler, PluginKind::ValueEstimator})
    if (config.plugin(config_section(kind)).empty())
      throw core::ConfigValidationError(
          {{{config.file().string(), 0, 0},
            config_section(kind),
            "decode needs a [" + std::string(config_section(kind)) + "] section with plugin = \"...\""}});
  in.eval = core::EvalOptions::from_config(config.view("eval"), config.view("data"),
                                           config.view("run").get<std::uint64_t>("seed"));
  if (in.eval.items_file.empty())
    throw core::ConfigValidationError(
        {{{config.file().string(), 0, 0}, "data.eval", "decode answers the items of [data] eval, which is not set"}});
  in.items = core::load_eval_items(in.eval);
  in.judge.emplace(in.eval);
  in.judge->prepare(in.items);
  return in;
}

// The policy at `iteration` (0 = [model] path) of the config's run directory.
std::shared_ptr<core::CheckedBackend> policy_at(const core::PluginRegistry& registry,
                                                const core::ResolvedConfig& config, const po::variables_map& vm) {
  const ConfigView run = config.view("run");
  auto policy = std::make_shared<core::CheckedBackend>(core::as_input_error(
      [&] { return core::create_configured<ModelBackend>(registry, config, PluginKind::ModelBackend); }));
  if (const int iteration = vm["iteration"].as<int>(); iteration > 0) {
    const fs::path dir = vm.count("run-dir") ? fs::path(vm["run-dir"].as<std::string>())
                                             : fs::path(run.get<std::string>("out_dir")) / run.get<std::string>("name");
    const fs::path checkpoint = core::RunDirectory::at(dir).checkpoint(iteration);
    if (!fs::exists(checkpoint / "config.json"))
      throw core::InputError("--iteration " + std::to_string(iteration) + ": no checkpoint at '" + checkpoint.string() +
                             "' (train that iteration first)");
    policy->load_weights(checkpoint);
  }
  policy->set_training(false);
  return policy;
}

}  // namespace

int decode_command(const Args& args) {
  po::options_description options("Options");
  options.add_options()("file", po::value<std::string>(), "decoding config (e.g. configs/decode/phi.toml)")(
      "set", po::value<std::vector<std::string>>()->value_name("SECTION.KEY=VALUE"), "override a key (repeatable)")(
      "iteration", po::value<int>()->default_value(0),
      "decode with the policy after this iteration of the config's run directory (0 = [model] path)")(
      "run-dir", po::value<std::string>()->value_name("DIR"), "the run directory (default: <run.out_dir>/<run.name>)")(
      "out", po::value<std::string>()->value_name("DIR"), "write decode.json and decode.jsonl (per item) here")(
      "json", "print the summary as JSON");
  po::positional_options_description positional;
  positional.add("file", 1);
  const Parsed vm = parse("decode", "CONFIG [--iteration N] [--set SECTION.KEY=VALUE]... [--out DIR] [--json]", args,
                          options, positional, [](const po::variables_map& given) {
                            if (!given.count("file")) throw po::error("missing CONFIG");
                            check_range(given, "iteration", 0);
                          });
  if (!vm) return vm.exit_code;

  Loaded in;
  try {
    in = load(*vm);
  } catch (const std::exception& e) {
    std::cerr << core::describe(e) << "\n";
    return core::kExitUsageError;
  }
  const core::ResolvedConfig& config = *in.config;
  const core::PluginRegistry& registry = *in.registry;
  const std::vector<core::EvalItem>& items = in.items;
  if (const int threads = config.view("run").get<int>("threads"); threads > 0) core::set_cpu_threads(threads);

  try {
    const ConfigView run = config.view("run");
    const auto policy = policy_at(registry, config, *vm);
    auto sampler = core::create_configured<Sampler>(registry, config, PluginKind::Sampler);
    auto values = core::create_configured<ValueEstimator>(registry, config, PluginKind::ValueEstimator);
    core::ModelPool models(registry, config);
    models.attach(*sampler, "sampler");
    models.attach(*values, "value");

    const Tally tally = decode_all(*sampler, *values, *policy, items, *in.judge, run.get<std::uint64_t>("seed"));
    json summary = summarize(config, tally, items.size(), *policy, models.find("critic"));
    summary["iteration"] = (*vm)["iteration"].as<int>();
    const std::vector<json>& lines = tally.lines;
    if (vm->count("out")) {
      const fs::path out = (*vm)["out"].as<std::string>();
      fs::create_directories(out);
      core::write_jsonl_atomic(out / "decode.jsonl", lines);
      write_file_atomic(out / "decode.json", summary.dump(2) + "\n");
    }
    if (vm->count("json"))
      std::cout << summary.dump(2) << "\n";
    else
      print_summary(summary);
  } catch (const core::InputError& e) {
    std::cerr << e.what() << "\n";
    return core::kExitUsageError;
  } catch (const std::exception& e) {
    std::cerr << core::describe(e) << "\n";
    return core::kExitRunFailed;
  }
  return core::kExitOk;
}

}  // namespace genius::cli
