// genius config check FILE [--set section.key=value]...
// A sweep file (one with a [sweep] section) is checked by validating every
// one of its cells.
#include <iostream>

#include "cli.hpp"
#include "config/config.hpp"
#include "io/errors.hpp"
#include "plugins/plugin_registry.hpp"
#include "run/preflight.hpp"
#include "sweep/sweep.hpp"

namespace genius::cli {

int config_command(const Args& args) {
  po::options_description options("Options");
  options.add_options()("action", po::value<std::string>(), "check")("file", po::value<std::string>(), "config")(
      "set", po::value<std::vector<std::string>>()->value_name("SECTION.KEY=VALUE"),
      "override a key (repeatable); the value is read as TOML, else as a string")(
      "print", "print the resolved config (every key, defaults filled in)");
  po::positional_options_description positional;
  positional.add("action", 1).add("file", 1);
  const Parsed vm = parse("config", "check FILE [--set SECTION.KEY=VALUE]... [--print]", args, options, positional);
  if (!vm) return vm.exit_code;
  if (!vm->count("action")) return usage_error("config", "expected `genius config check FILE`");
  if (const std::string action = (*vm)["action"].as<std::string>(); action != "check")
    return usage_error("config", "unknown action '" + action + "'; expected `genius config check FILE`");
  if (!vm->count("file")) return usage_error("config check", "missing the config FILE");

  const std::string file = (*vm)["file"].as<std::string>();
  const auto overrides = vm->count("set") ? (*vm)["set"].as<std::vector<std::string>>() : std::vector<std::string>{};
  if (core::is_sweep_file(file)) {
    if (!overrides.empty() || vm->count("print"))
      return usage_error("config check", "--set and --print apply to run configs; '" + file + "' is a sweep file");
    try {
      const core::SweepSpec spec = core::SweepSpec::load(file);
      const core::PluginRegistry registry = core::discover_sweep_plugins(spec);
      registry.throw_if_errors();
      const core::SweepPlan plan = core::plan_sweep(spec, registry);
      std::cout << file << ": ok (sweep of " << plan.cells.size() << " cells)\n";
      return core::kExitOk;
    } catch (const std::exception& e) {
      std::cerr << core::describe(e) << "\n";
    }
    return core::kExitRunFailed;
  }
  try {
    const core::RawConfig raw = core::RawConfig::load(file, overrides);
    const core::PluginRegistry registry = core::discover_plugins(raw.plugin_path());
    registry.throw_if_errors();
    const core::ResolvedConfig config = core::validate(raw, registry);
    core::preflight(config);
    if (vm->count("print"))
      std::cout << config.to_toml();
    else
      std::cout << file << ": ok\n";
    return core::kExitOk;
  } catch (const core::ConfigValidationError& e) {
    std::cerr << core::describe(e) << "\n";
  } catch (const core::PluginLoadError& e) {
    std::cerr << core::describe(e) << "\n";
  } catch (const ConfigError& e) {
    std::cerr << file << ": " << core::describe(e) << "\n";
  }
  return core::kExitRunFailed;  // `config check` answers 0 (valid) or 1 (invalid)
}

}  // namespace genius::cli
