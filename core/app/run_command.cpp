// genius run FILE [--set section.key=value]... [--out DIR] [--resume]
// genius explore|pairs|train|eval FILE [--set ...] [--out DIR] [--iteration N]
// genius audit FILE [--set ...] [--out DIR] [--iteration N] [--items N] [--probe PATH]
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

#include <ATen/Parallel.h>

#include <genius/helpers/atomic_file.hpp>
#include <genius/sdk.hpp>

#include "cli.hpp"
#include "config/config.hpp"
#include "config/suggest.hpp"
#include "dist/cluster.hpp"
#include "eval/audit.hpp"
#include "io/cpu_threads.hpp"
#include "io/errors.hpp"
#include "io/logging.hpp"
#include "plugins/plugin_registry.hpp"
#include "run/preflight.hpp"
#include "run/run_driver.hpp"

namespace genius::cli {
namespace fs = std::filesystem;

namespace {

// The plugin sections a stage needs, each naming an installed plugin.
void require_plugin_sections(const core::ResolvedConfig& config, const core::PluginRegistry& registry,
                             const std::vector<PluginKind>& kinds) {
  std::vector<core::ConfigDiagnostic> missing;
  for (PluginKind kind : kinds) {
    const std::string section = config_section(kind);
    if (!config.plugin(section).empty()) continue;
    const auto names = registry.names(kind);
    missing.push_back({{config.file().string(), 0, 0},
                       section,
                       "this command needs a [" + section + "] section with plugin = \"...\" (" +
                           (names.empty() ? "no " + std::string(to_string(kind)) + " plugin is installed"
                                          : "available: " + core::join(names)) +
                           ")"});
  }
  if (!missing.empty()) throw core::ConfigValidationError(std::move(missing));
}

struct Prepared {
  std::optional<core::ResolvedConfig> config;
  std::optional<core::PluginRegistry> registry;
  std::optional<core::RunDirectory> dir;
  // `run` creates every plugin before writing anything, so a bad model path
  // or a plugin that refuses its keys leaves no half-started run directory.
  std::shared_ptr<ModelBackend> backend;
  std::shared_ptr<Sampler> sampler;
  std::shared_ptr<ValueEstimator> values;
  std::shared_ptr<Loss> loss;
  // This process's place in its job (one rank unless torchrun, SLURM or
  // `genius launch` started several).
  std::unique_ptr<core::Cluster> cluster;
  // The run directory did not exist before this command: a failure before
  // any stage finished removes it again (nothing half-written is left).
  bool fresh_dir = false;
};

// Meet the job's other ranks (nothing to meet for one process).
std::unique_ptr<core::Cluster> join_job(const core::ResolvedConfig& config) {
  core::ClusterSpec spec = core::ClusterSpec::from_environment();
  const ConfigView dist = config.view("distributed");
  spec.backend = dist.get<std::string>("backend");
  spec.timeout_seconds = dist.get<double>("timeout_seconds");
  const ConfigView model = config.view("model");
  if (model.contains("device")) spec.device = model.get<std::string>("device");
  std::unique_ptr<core::Cluster> cluster = core::Cluster::connect(spec);
  if (cluster->distributed()) core::set_log_rank(cluster->rank());
  return cluster;
}

// Parse, validate and open the run directory as `mode` allows (the resume
// policy is RunDirectory's). Returns an exit code when something is wrong,
// after printing why.
std::optional<int> prepare(const po::variables_map& vm, const std::vector<PluginKind>& needed,
                           core::RunDirectory::Mode mode, bool create_plugins, Prepared& out, unsigned inputs) {
  try {
    const auto overrides = vm.count("set") ? vm["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
    const core::RawConfig raw = core::RawConfig::load(vm["file"].as<std::string>(), overrides);
    out.registry.emplace(core::discover_plugins(raw.plugin_path()));
    out.registry->throw_if_errors();
    out.config.emplace(core::validate(raw, *out.registry));
    require_plugin_sections(*out.config, *out.registry, needed);
    core::preflight(*out.config, inputs);
  } catch (const std::exception& e) {
    std::cerr << core::describe(e) << "\n";
    return core::kExitUsageError;
  }
  try {
    out.cluster = join_job(*out.config);
  } catch (const std::exception& e) {
    std::cerr << core::describe(e) << "\n";
    return core::kExitRunFailed;
  }
  core::Cluster& cluster = *out.cluster;
  const ConfigView run = out.config->view("run");
  const fs::path dir = vm.count("out") ? fs::path(vm["out"].as<std::string>())
                                       : fs::path(run.get<std::string>("out_dir")) / run.get<std::string>("name");
  auto failed = [&](const std::string& message, int code) {
    std::cerr << message << "\n";
    cluster.fail(message);
    return code;
  };
  out.fresh_dir = !fs::exists(dir);
  // Rank 0 opens the directory as `mode` asks; the others follow it once it exists.
  if (cluster.leader()) {
    try {
      out.dir.emplace(core::RunDirectory::open(dir, *out.config, mode));
    } catch (const core::RunDirectoryError& e) {
      return failed(core::describe(e), core::kExitUsageError);
    }
  }
  if (auto level = core::parse_log_level(run.get<std::string>("log_level")); level && !vm.count("log-level"))
    spdlog::default_logger()->sinks().front()->set_level(cluster.leader() ? *level
                                                                          : std::max(*level, spdlog::level::warn));
  if (const int threads = run.get<int>("threads"); threads > 0)
    core::set_cpu_threads(threads);
  else if (cluster.distributed())  // "all cores", shared among this machine's ranks
    core::set_cpu_threads(
        std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / cluster.spec().local_world));
  if (create_plugins) {
    try {
      const core::ResolvedConfig& c = *out.config;
      out.backend = core::create_configured<ModelBackend>(*out.registry, c, PluginKind::ModelBackend);
      out.sampler = core::create_configured<Sampler>(*out.registry, c, PluginKind::Sampler);
      out.values = core::create_configured<ValueEstimator>(*out.registry, c, PluginKind::ValueEstimator);
      out.loss = core::create_configured<Loss>(*out.registry, c, PluginKind::Loss);
    } catch (const std::exception& e) {
      // The plugin speaks of its keys; the config file they come from goes first.
      std::string message = out.config->file().string() + ": " + core::describe(e);
      const ConfigView model = out.config->view("model");
      if (model.contains("path")) {
        const fs::path path = model.get<std::string>("path");
        if (!fs::exists(path / "config.json")) {
          if (const auto recipe = core::find_model_recipe(out.config->file(), path))
            message += "\nthe model '" + path.string() + "' does not exist yet; make it with `genius pretrain " +
                       recipe->string() + "`";
        }
      }
      return failed(message, core::kExitUsageError);  // a model or plugin key the plugin refuses: bad input
    }
  }
  if (cluster.leader()) {
    try {
      out.dir->create(*out.config);
    } catch (const std::exception& e) {  // --out names a file, an unwritable place, ...
      return failed(core::describe(e), core::kExitUsageError);
    }
  }
  try {
    cluster.barrier("run directory");
    if (!cluster.leader()) {
      out.dir.emplace(core::RunDirectory::open(dir, *out.config, core::RunDirectory::Mode::Continue));
      out.dir->follow(cluster.rank());
      out.dir->create(*out.config);
    }
  } catch (const std::exception& e) {
    return failed(core::describe(e), core::kExitRunFailed);
  }
  spdlog::info("run directory: {}", out.dir->path().string());
  if (cluster.distributed()) spdlog::info("{} ranks", cluster.world());
  return std::nullopt;
}

// A run directory this command created, removed again when none of its
// stages finished (rank 0 only; the log's lines were printed to stderr too).
void discard_unstarted(const Prepared& p) {
  if (!p.fresh_dir || !p.dir || !p.cluster || !p.cluster->leader()) return;
  try {
    if (!core::RunDirectory::at(p.dir->path()).stages().empty()) return;
    core::close_log_files();
    fs::remove_all(p.dir->path());
  } catch (const std::exception& e) {
    spdlog::warn("could not remove the unstarted run directory '{}': {}", p.dir->path().string(), core::describe(e));
  }
}

// Run `body` (a command's work); when it throws, the other ranks hear of it
// (and stop naming this rank) before the error reaches main; a run directory
// this command created is removed when no stage of it finished.
template <class F>
auto announcing_failure(Prepared& p, F body) {
  try {
    return body();
  } catch (const std::exception& e) {
    p.cluster->fail(core::describe(e));
    discard_unstarted(p);
    throw;
  }
}
po::options_description run_options() {
  po::options_description options("Options");
  options.add_options()("file", po::value<std::string>(), "config")(
      "set", po::value<std::vector<std::string>>()->value_name("SECTION.KEY=VALUE"),
      "override a key (repeatable); the value is read as TOML, else as a string")(
      "out", po::value<std::string>()->value_name("DIR"), "run directory (default: <run.out_dir>/<run.name>)");
  return options;
}

std::string iteration_label(const nlohmann::json& record) {
  const int i = record.value("iteration", 0);
  return i == 0 ? "base" : std::to_string(i);
}

std::string percent_cell(const nlohmann::json& record, const std::string& key) {
  if (!record.contains(key) || !record[key].is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100 * record[key].get<double>());
  return buf;
}

// summary["benchmarks"]: iterations down, benchmarks (and their average) across.
void print_benchmarks(const nlohmann::json& table) {
  std::vector<std::string> columns;
  for (const auto& s : table["sets"]) columns.push_back(s.get<std::string>());
  if (columns.size() >= 2) columns.emplace_back("average");
  std::printf("\n%s by benchmark\n%-10s", table.value("metric", std::string()).c_str(), "iteration");
  for (const std::string& c : columns) std::printf(" %12s", c.substr(0, 12).c_str());
  std::printf("\n");
  for (const auto& row : table["rows"]) {
    std::printf("%-10s", iteration_label(row).c_str());
    for (const std::string& c : columns) std::printf(" %12s", percent_cell(row, c).c_str());
    std::printf("\n");
  }
}

void print_results(const nlohmann::json& summary) {
  if (!summary.contains("eval") || summary["eval"].empty()) return;
  if (const auto it = summary.find("benchmarks"); it != summary.end() && it->is_object()) {
    print_benchmarks(*it);
    return;
  }
  std::printf("\n%-10s %16s %16s\n", "iteration", "greedy accuracy", "sampled pass@1");
  for (const auto& e : summary["eval"])
    std::printf("%-10s %16s %16s\n", iteration_label(e).c_str(), percent_cell(e, "greedy_accuracy").c_str(),
                percent_cell(e, "pass@1").c_str());
}

}  // namespace

int run_command(const Args& args) {
  po::options_description options = run_options();
  options.add_options()("resume", "continue the run in an existing run directory");
  po::positional_options_description positional;
  positional.add("file", 1);
  const Parsed vm = parse("run", "FILE [--set SECTION.KEY=VALUE]... [--out DIR] [--resume]", args, options, positional);
  if (!vm) return vm.exit_code;
  if (!vm->count("file")) return usage_error("run", "missing the config FILE");
  const bool resume = vm->count("resume") > 0;
  Prepared p;
  if (auto code =
          prepare(*vm, {PluginKind::ModelBackend, PluginKind::Sampler, PluginKind::ValueEstimator, PluginKind::Loss},
                  resume ? core::RunDirectory::Mode::Resume : core::RunDirectory::Mode::New,
                  /*create_plugins=*/true, p, core::kTrainInputs | core::kEvalInputs | core::kAuditInputs))
    return *code;
  core::RunDriver driver(*p.config, *p.registry, *p.dir, *p.cluster);
  driver.use_plugins(p.backend, p.sampler, p.values, p.loss);
  const nlohmann::json summary = announcing_failure(p, [&] { return driver.run(); });
  if (!p.cluster->leader()) return core::kExitOk;
  print_results(summary);
  std::printf("\nrun directory: %s\nreport: %s\n", p.dir->path().string().c_str(), p.dir->report().string().c_str());
  return core::kExitOk;
}

namespace {

int stage_command(const std::string& name, core::Stage stage, const std::vector<PluginKind>& needed, const Args& args) {
  po::options_description options = run_options();
  options.add_options()("iteration", po::value<int>()->default_value(stage == core::Stage::Eval ? 0 : 1),
                        stage == core::Stage::Eval ? "iteration whose policy to evaluate (0 = the base model)"
                                                   : "iteration to run the stage for");
  po::positional_options_description positional;
  positional.add("file", 1);
  const Parsed vm = parse(name, "FILE [--set SECTION.KEY=VALUE]... [--out DIR] [--iteration N]", args, options,
                          positional, [&](const po::variables_map& given) {
                            if (!given.count("file")) throw po::error("missing the config FILE");
                            if (given["iteration"].as<int>() < (stage == core::Stage::Eval ? 0 : 1))
                              throw po::error("--iteration out of range");
                          });
  if (!vm) return vm.exit_code;
  Prepared p;
  const unsigned inputs = stage == core::Stage::Explore ? core::kTrainInputs
                          : stage == core::Stage::Eval  ? core::kEvalInputs
                                                        : 0u;  // pairs and train read the run directory
  if (auto code = prepare(*vm, needed, core::RunDirectory::Mode::Continue, /*create_plugins=*/false, p, inputs))
    return *code;
  core::RunDriver driver(*p.config, *p.registry, *p.dir, *p.cluster);
  announcing_failure(p, [&] { driver.run_stage(stage, (*vm)["iteration"].as<int>()); });
  if (!p.cluster->leader()) return core::kExitOk;
  // The evaluations of the run directory so far (this one among them).
  if (stage == core::Stage::Eval && std::filesystem::exists(p.dir->summary()))
    print_results(nlohmann::json::parse(read_file(p.dir->summary()), nullptr, /*allow_exceptions=*/false));
  std::printf("%s done; run directory: %s\n", name.c_str(), p.dir->path().string().c_str());
  return core::kExitOk;
}

}  // namespace

int audit_command(const Args& args) {
  po::options_description options = run_options();
  options.add_options()("iteration", po::value<int>()->default_value(1),
                        "audit the policy that starts this iteration (1 = the base model)")(
      "items", po::value<std::int64_t>(), "probe items (default: [audit] items, or 200 when that is 0)")(
      "probe", po::value<std::string>()->value_name("PATH"),
      "JSONL of labeled probe items (default: [audit] file, else [data] eval)");
  po::positional_options_description positional;
  positional.add("file", 1);
  const Parsed vm =
      parse("audit", "FILE [--set SECTION.KEY=VALUE]... [--out DIR] [--iteration N] [--items N] [--probe PATH]", args,
            options, positional, [&](const po::variables_map& given) {
              if (!given.count("file")) throw po::error("missing the config FILE");
              if (given["iteration"].as<int>() < 1) throw po::error("--iteration out of range (1 = the base model)");
              check_range(given, "items", 1);
              if (given.count("probe") && given["probe"].as<std::string>().empty())
                throw po::error("--probe needs a file");
            });
  if (!vm) return vm.exit_code;
  Prepared p;
  if (auto code = prepare(*vm, {PluginKind::ModelBackend, PluginKind::Sampler, PluginKind::ValueEstimator},
                          core::RunDirectory::Mode::Continue, /*create_plugins=*/false, p,
                          core::kAuditInputs | core::kEvalInputs))
    return *code;
  // --items and --probe change what is measured, not the run: they do not
  // enter the resolved config, so an existing run directory accepts them.
  core::AuditOptions audit =
      core::AuditOptions::from_config(*p.config, p.config->view("run").get<std::uint64_t>("seed"));
  if (vm->count("items")) audit.items = static_cast<std::size_t>((*vm)["items"].as<std::int64_t>());
  if (!audit.enabled()) audit.items = 200;
  if (vm->count("probe")) audit.probe.items_file = (*vm)["probe"].as<std::string>();
  core::RunDriver driver(*p.config, *p.registry, *p.dir, *p.cluster);
  const nlohmann::json m = announcing_failure(p, [&] {
    core::as_input_error([&] { return core::load_probe_items(audit); });  // before any model is loaded
    return driver.audit((*vm)["iteration"].as<int>(), audit);
  });
  auto cell = [&](const std::string& key) {
    if (!m.contains(key) || !m[key].is_number()) return std::string("-");
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3f", m[key].get<double>());
    return std::string(buf);
  };
  std::printf("\n%-22s %10s %14s %14s\n", "metric", "all items", "greedy right", "greedy wrong");
  for (const char* key : {"audit/value_auc", "audit/pair_precision", "audit/same_answer_pairs", "audit/chosen_right",
                          "audit/tree_has_right", "audit/response_accuracy"})
    std::printf("%-22s %10s %14s %14s\n", std::string(key).substr(6).c_str(), cell(key).c_str(),
                cell(std::string(key) + "/greedy_right").c_str(), cell(std::string(key) + "/greedy_wrong").c_str());
  std::printf("\n%s items (%s greedy right); details: %s\n", m["items"].dump().c_str(),
              cell("audit/greedy_accuracy").c_str(), driver.dir().audit((*vm)["iteration"].as<int>()).string().c_str());
  return core::kExitOk;
}

int explore_command(const Args& args) {
  return stage_command("explore", core::Stage::Explore,
                       {PluginKind::ModelBackend, PluginKind::Sampler, PluginKind::ValueEstimator}, args);
}
int pairs_command(const Args& args) {
  return stage_command("pairs", core::Stage::Pairs, {PluginKind::Sampler}, args);
}
int train_command(const Args& args) {
  return stage_command("train", core::Stage::Train, {PluginKind::ModelBackend, PluginKind::Loss}, args);
}
int eval_command(const Args& args) {
  return stage_command("eval", core::Stage::Eval, {PluginKind::ModelBackend}, args);
}

}  // namespace genius::cli
