// genius run FILE [--set section.key=value]... [--out DIR] [--resume]
#include <iostream>
#include <sstream>

#include <genius/atomic_file.hpp>
#include <genius/sdk.hpp>

#include "../src/config.hpp"
#include "../src/logging.hpp"
#include "../src/plugin_registry.hpp"
#include "../src/suggest.hpp"
#include "cli.hpp"

namespace genius::cli {
namespace fs = std::filesystem;

namespace {

// The four plugin sections a run needs, each naming an installed plugin.
void require_plugin_sections(const core::ResolvedConfig& config, const core::PluginRegistry& registry) {
  std::vector<core::ConfigDiagnostic> missing;
  for (PluginKind kind : {PluginKind::ModelBackend, PluginKind::Sampler, PluginKind::ValueEstimator, PluginKind::Loss}) {
    const std::string section = config_section(kind);
    if (!config.plugin(section).empty()) continue;
    const auto names = registry.names(kind);
    missing.push_back({{config.file().string(), 0, 0}, section,
                       "a run needs a [" + section + "] section with plugin = \"...\" (" +
                           (names.empty() ? "no " + std::string(to_string(kind)) + " plugin is installed"
                                          : "available: " + core::join(names)) +
                           ")"});
  }
  if (!missing.empty()) throw core::ConfigValidationError(std::move(missing));
}

// The resolved config without its comment header (which names the source
// file and --set options: a resumed run may be started from a copy).
std::string strip_comments(const std::string& toml) {
  std::string out;
  std::istringstream in(toml);
  for (std::string line; std::getline(in, line);)
    if (line.rfind('#', 0) != 0) out += line + "\n";
  return out;
}

}  // namespace

int run_command(const Args& args) {
  po::options_description options("Options");
  options.add_options()("file", po::value<std::string>(), "config")(
      "set", po::value<std::vector<std::string>>()->value_name("SECTION.KEY=VALUE"),
      "override a key (repeatable); the value is read as TOML, else as a string")(
      "out", po::value<std::string>()->value_name("DIR"), "run directory (default: <run.out_dir>/<run.name>)")(
      "resume", "continue the run in an existing run directory");
  po::positional_options_description positional;
  positional.add("file", 1);
  std::optional<po::variables_map> vm;
  try {
    vm = parse("run", "FILE [--set SECTION.KEY=VALUE]... [--out DIR] [--resume]", args, options, positional);
  } catch (const po::error& e) {
    return usage_error("run", e.what());
  }
  if (!vm) return core::kExitOk;
  if (!vm->count("file")) return usage_error("run", "missing the config FILE");
  const bool resume = vm->count("resume") > 0;

  std::optional<core::ResolvedConfig> config;
  std::optional<core::PluginRegistry> registry;
  try {
    const auto overrides = vm->count("set") ? (*vm)["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
    const core::RawConfig raw = core::RawConfig::load((*vm)["file"].as<std::string>(), overrides);
    registry.emplace(core::discover_plugins(raw.plugin_path()));
    registry->throw_if_errors();
    config.emplace(core::validate(raw, *registry));
    require_plugin_sections(*config, *registry);
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return core::kExitUsageError;
  }

  const ConfigView run = config->view("run");
  const fs::path dir = vm->count("out") ? fs::path((*vm)["out"].as<std::string>())
                                        : fs::path(run.get<std::string>("out_dir")) / run.get<std::string>("name");
  const fs::path resolved = dir / "config.resolved.toml";
  if (fs::exists(resolved) && !resume) {
    std::cerr << "run directory '" << dir.string()
              << "' already holds a run; pass --resume to continue it or --out DIR to start a new one\n";
    return core::kExitUsageError;
  }
  if (resume && !fs::exists(resolved)) {
    std::cerr << "--resume: '" << dir.string() << "' holds no run to resume (no config.resolved.toml)\n";
    return core::kExitUsageError;
  }
  const std::string resolved_text = config->to_toml();
  if (resume && strip_comments(read_file(resolved)) != strip_comments(resolved_text)) {
    std::cerr << "--resume: the config differs from the one '" << dir.string()
              << "' was started with (see its config.resolved.toml); resume with the same config and --set options\n";
    return core::kExitUsageError;
  }
  if (auto level = core::parse_log_level(run.get<std::string>("log_level")); level && !vm->count("log-level"))
    spdlog::default_logger()->sinks().front()->set_level(*level);

  // Instantiate every component before touching the run directory: a plugin
  // that rejects its keys fails here, before any work is done.
  auto backend = registry->create_as<ModelBackend>(PluginKind::ModelBackend, config->plugin("model"), config->view("model"));
  auto sampler = registry->create_as<Sampler>(PluginKind::Sampler, config->plugin("sampler"), config->view("sampler"));
  auto values = registry->create_as<ValueEstimator>(PluginKind::ValueEstimator, config->plugin("value"), config->view("value"));
  auto loss = registry->create_as<Loss>(PluginKind::Loss, config->plugin("loss"), config->view("loss"));

  fs::create_directories(dir);
  core::add_log_file(dir / "genius.log");
  if (!resume) write_file_atomic(resolved, resolved_text);
  spdlog::info("run directory: {}", dir.string());
  spdlog::error("this build has no self-training driver yet (explore -> pairs -> train -> eval)");
  return core::kExitRunFailed;
}

}  // namespace genius::cli
