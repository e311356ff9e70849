// genius pretrain CONFIG [--set section.key=value]... [--force]
//
// Makes the base model of the embedded quickstart (docs/tasks.md): a fresh
// model made by the [model] backend from the [pretrain] model keys (the
// backend's own, PluginManifest::model_keys), trained with plain supervised
// next-token loss on solved problems of a synthetic task, then evaluated on
// the config's [data] eval set. It stands in for the pretraining a real LLM
// already had, and is the only place besides evaluation where labels are
// read. No prompt of [data] train or [data] eval is ever trained on.
//
// The model is assembled in OUT.partial/ and renamed to OUT when complete,
// so an interrupted pretrain never leaves a half-written model behind.
#include <cstdio>
#include <iostream>
#include <set>

#include <ATen/Parallel.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <genius/helpers/atomic_file.hpp>
#include <genius/model_backend.hpp>

#include "cli.hpp"
#include "config/config.hpp"
#include "eval/critique_data.hpp"
#include "eval/evaluator.hpp"
#include "eval/tasks.hpp"
#include "io/cpu_threads.hpp"
#include "io/durable_dir.hpp"
#include "io/errors.hpp"
#include "io/progress.hpp"
#include "io/records_io.hpp"
#include "plugins/plugin_registry.hpp"
#include "train/supervised.hpp"

namespace genius::cli {
namespace fs = std::filesystem;

namespace {

core::ResolvedConfig load_config(const fs::path& file, const std::vector<std::string>& overrides,
                                 core::PluginRegistry& registry) {
  const core::RawConfig raw = core::RawConfig::load(file, overrides);
  registry = core::discover_plugins(raw.plugin_path());
  registry.throw_if_errors();
  core::ResolvedConfig config = core::validate(raw, registry);
  if (config.plugin("model").empty())
    throw core::ConfigValidationError(
        {{{file.string(), 0, 0}, "model", "pretrain needs a [model] section naming the backend that makes the model"}});
  return config;
}

// Prompts of a JSONL query file, to keep them out of the training problems.
std::set<std::string> prompts_of(const fs::path& file, const std::string& prompt_key) {
  std::set<std::string> prompts;
  if (file.empty()) return prompts;
  for (const Query& q : core::load_queries(file, prompt_key, 0)) prompts.insert(q.prompt);
  return prompts;
}

// [pretrain] levels: [] (the task's default) or [min, max], checked against the task.
core::LevelRange pretrain_levels(const ConfigView& pre, const core::Task& task, const fs::path& file) {
  const auto level_list = pre.get<std::vector<std::int64_t>>("levels");
  core::LevelRange levels = task.default_levels();
  if (level_list.size() == 2) {
    levels = {int(level_list[0]), int(level_list[1])};
  } else if (!level_list.empty()) {
    throw core::ConfigValidationError({{{file.string(), 0, 0}, "pretrain.levels", "must be [] or [min, max]"}});
  }
  try {
    core::check_levels(task, levels);
  } catch (const std::invalid_argument& e) {
    throw core::ConfigValidationError({{{file.string(), 0, 0}, "pretrain.levels", e.what()}});
  }
  return levels;
}

// The solved problems to train on: a stream independent of `genius data`'s,
// minus every prompt of the run's query files (`skipped` counts those).
std::vector<core::TextExample> training_problems(const core::ResolvedConfig& config, const core::Task& task,
                                                 core::LevelRange levels, std::size_t& skipped) {
  const ConfigView data = config.view("data"), pre = config.view("pretrain");
  const std::string prompt_key = data.get<std::string>("prompt_key");
  std::set<std::string> excluded = prompts_of(data.get<std::string>("train"), prompt_key);
  for (const auto& p : prompts_of(data.get<std::string>("eval"), prompt_key)) excluded.insert(p);
  core::ProblemStream stream(task, core::task_seed(pre.get<std::uint64_t>("seed"), "pretrain"), levels);
  std::vector<core::TextExample> examples;
  const auto wanted = pre.get<std::size_t>("examples");
  while (examples.size() < wanted) {
    core::Problem p = stream.next();
    if (excluded.count(p.prompt)) {
      if (++skipped > 100 * wanted) throw std::runtime_error("pretrain: almost every problem is in the data files");
      continue;
    }
    examples.push_back({p.prompt, p.solution});
  }
  return examples;
}

// A fresh model in `staging`, made by the [model] backend from the [pretrain]
// keys it declares (its model keys), its weights drawn from [run] seed.
void create_fresh_model(const core::PluginRegistry& registry, const core::ResolvedConfig& config,
                        const fs::path& staging) {
  fs::remove_all(staging);
  const std::string backend = config.plugin("model");
  const ConfigView pre = config.view("pretrain");
  std::map<std::string, ConfigValue> model_keys;
  for (const ConfigKey& key : registry.find(PluginKind::ModelBackend, backend)->manifest.model_keys)
    model_keys[key.name] = pre.values().at(key.name);
  registry.create_model(backend, ConfigView("pretrain", model_keys), config.view("run").get<std::uint64_t>("seed"),
                        staging);
}

// [pretrain] slips: the critique task drawing its flawed solutions from that
// slip distribution (nullptr when the key is empty: the task's built-in one).
std::unique_ptr<core::Task> critique_task_with_slips(const core::Task& task, const std::string& slips) {
  if (slips.empty()) return nullptr;
  if (task.name() != "arith-critique")
    throw std::invalid_argument("[pretrain] slips is for critique tasks (arith-critique), not '" + task.name() + "'");
  try {
    return core::make_arith_critique_task(core::SlipModel::from_json(nlohmann::json::parse(read_file(slips))));
  } catch (const std::exception& e) {
    throw std::invalid_argument("[pretrain] slips: '" + slips + "' is not a slip distribution: " + core::describe(e));
  }
}

// pretrain.json, before the held-out evaluation is added.
nlohmann::json pretrain_record(const core::Task& task, core::LevelRange levels, std::size_t examples,
                               std::size_t skipped, std::int64_t parameters, const core::SupervisedSummary& summary) {
  return {{"task", task.name()},
          {"levels", {levels.min, levels.max}},
          {"examples", examples},
          {"skipped_data_prompts", skipped},
          {"parameters", parameters},
          {"steps", summary.steps},
          {"first_loss", summary.first_loss},
          {"last_loss", summary.last_loss},
          {"seconds", summary.seconds},
          {"tokens_per_second", summary.tokens_per_second},
          {"truncated_responses", summary.truncated},
          {"dropped_examples", summary.dropped}};
}

void print_outcome(const fs::path& out, std::int64_t parameters, const core::SupervisedSummary& summary,
                   const nlohmann::json& record) {
  std::printf("\nwrote %s: %lld parameters, %lld steps in %.0f s, loss %.3f -> %.3f\n", out.string().c_str(),
              static_cast<long long>(parameters), static_cast<long long>(summary.steps), summary.seconds,
              summary.first_loss, summary.last_loss);
  if (!record.contains("eval")) return;
  const auto& e = record["eval"];
  std::printf("held-out (%zu items):", e["items"].get<std::size_t>());
  if (e.contains("greedy_accuracy")) std::printf(" greedy accuracy %.1f%%", 100 * e["greedy_accuracy"].get<double>());
  if (e.contains("pass@1")) std::printf(", sampled pass@1 %.1f%%", 100 * e["pass@1"].get<double>());
  std::printf("\n");
}

}  // namespace

int pretrain_command(const Args& args) {
  po::options_description options("Options");
  options.add_options()("file", po::value<std::string>(), "pretrain config (e.g. configs/base.toml)")(
      "set", po::value<std::vector<std::string>>()->value_name("SECTION.KEY=VALUE"), "override a key (repeatable)")(
      "force", "replace an existing model at [pretrain] out");
  po::positional_options_description positional;
  positional.add("file", 1);
  const Parsed vm = parse("pretrain", "CONFIG [--set SECTION.KEY=VALUE]... [--force]", args, options, positional,
                          [&](const po::variables_map& given) {
                            if (!given.count("file")) throw po::error("missing CONFIG");
                          });
  if (!vm) return vm.exit_code;
  const fs::path file = (*vm)["file"].as<std::string>();
  std::vector<std::string> overrides =
      vm->count("set") ? (*vm)["set"].as<std::vector<std::string>>() : std::vector<std::string>{};

  // 1. The config, twice: first to learn where the model goes, then with the
  // backend pointed at the staging directory.
  core::PluginRegistry registry;
  fs::path out, staging;
  std::optional<core::ResolvedConfig> config;
  const core::Task* task = nullptr;
  std::unique_ptr<core::Task> owned_task;  // a critique task with the config's slips
  core::LevelRange levels;
  std::string recipe;  // the config as the user wrote it (not the staging overrides)
  try {
    config.emplace(load_config(file, overrides, registry));
    const ConfigView pre = config->view("pretrain");
    out = fs::path(pre.get<std::string>("out")).lexically_normal();
    if (!out.has_filename()) out = out.parent_path();  // "model/" names "model"
    staging = out.parent_path() / (out.filename().string() + ".partial");
    task = &core::find_task(pre.get<std::string>("task"));
    if (auto with_slips = critique_task_with_slips(*task, pre.get<std::string>("slips"))) {
      owned_task = std::move(with_slips);
      task = owned_task.get();
    }
    levels = pretrain_levels(pre, *task, file);
    overrides.push_back("model.path=" + format_value(fs::absolute(staging).string()));
    recipe = config->to_toml();
    config.emplace(load_config(file, overrides, registry));
  } catch (const std::invalid_argument& e) {
    std::cerr << file.string() << ": pretrain: " << core::describe(e) << "\n";
    return core::kExitUsageError;
  } catch (const std::exception& e) {
    std::cerr << core::describe(e) << "\n";
    return core::kExitUsageError;
  }
  if (fs::exists(out) && !vm->count("force")) {
    std::cerr << "pretrain: '" << out.string() << "' already exists; pass --force to replace it\n";
    return core::kExitUsageError;
  }
  const ConfigView pre = config->view("pretrain"), run = config->view("run");
  if (const int threads = run.get<int>("threads"); threads > 0) core::set_cpu_threads(threads);

  // 2. The training problems.
  std::size_t skipped = 0;
  const std::vector<core::TextExample> examples = training_problems(*config, *task, levels, skipped);

  // 3. A fresh model in the staging directory, made by the backend from the
  // [pretrain] keys it declares, its weights drawn from [run] seed.
  // Nothing half-made is left behind: the staging directory goes unless the
  // model moved into place.
  struct RemoveUnlessMoved {
    const fs::path& dir;
    ~RemoveUnlessMoved() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } cleanup{staging};
  std::shared_ptr<ModelBackend> backend;
  try {
    create_fresh_model(registry, *config, staging);
    backend = core::create_configured<ModelBackend>(registry, *config, PluginKind::ModelBackend);
  } catch (const std::exception& e) {  // the [model] / [pretrain] shape makes no model
    std::cerr << file.string() << ": [pretrain]: " << core::describe(e) << "\n";
    return core::kExitUsageError;
  }
  if (const std::string start = pre.get<std::string>("init_from"); !start.empty()) {
    // Fine-tuning: the weights of an existing model of the same shape (the
    // backend refuses another shape, naming the tensor).
    try {
      backend->load_weights(start);
    } catch (const std::exception& e) {
      std::cerr << file.string() << ": [pretrain] init_from = '" << start << "': " << core::describe(e) << "\n";
      return core::kExitUsageError;
    }
    spdlog::info("pretrain: starting from the weights of {}", start);
  }
  std::int64_t parameters = 0;
  for (const auto& p : backend->parameters()) parameters += p.numel();
  spdlog::info("pretrain: {} parameters, {} {} problems (levels {}-{}, {} data-file prompts skipped)", parameters,
               examples.size(), task->name(), levels.min, levels.max, skipped);

  // 4. Supervised training.
  const core::TrainOptions train =
      core::TrainOptions::from_config(config->view("train"), run.get<std::uint64_t>("seed"));
  std::string log;
  std::optional<core::Progress> bar;
  const core::SupervisedSummary summary =
      core::train_supervised(*backend, examples, train, [&](const nlohmann::json& r) {
        log += r.dump() + "\n";
        if (!bar) bar.emplace("pretrain", r["total_steps"].get<std::int64_t>(), "steps");
        char text[64];
        std::snprintf(text, sizeof text, "loss %.4f", r["loss"].get<double>());
        bar->update(r["step"].get<std::int64_t>(), text);
      });
  if (bar) bar->finish();
  backend->save(staging);
  write_file_atomic(staging / "pretrain_metrics.jsonl", log);

  // 5. Held-out accuracy, then the model moves into place.
  nlohmann::json record = pretrain_record(*task, levels, examples.size(), skipped, parameters, summary);
  record["config"] = recipe;
  const ConfigView data = config->view("data");
  if (!data.get<std::string>("eval").empty() && config->view("eval").get<bool>("enabled")) {
    const auto eval_options =
        core::EvalOptions::from_config(config->view("eval"), data, run.get<std::uint64_t>("seed"));
    const core::EvalResult result = core::evaluate(*backend, eval_options, staging / "pretrain_eval.jsonl");
    record["eval"] = result.to_json();
  }
  write_file_atomic(staging / "pretrain.json", record.dump(2) + "\n");
  core::replace_directory(staging, out);  // an old model (--force) is replaced whole

  print_outcome(out, parameters, summary, record);
  return core::kExitOk;
}

}  // namespace genius::cli
