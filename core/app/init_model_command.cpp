// genius init-model [--backend NAME] --out DIR [--seed N] [--<model key> VALUE]... [--set KEY=VALUE]...
//
// A new model written by the backend itself (ModelBackend::create_model,
// registration.hpp): the flags after the host's own are the backend's model
// keys (PluginManifest::model_keys), so `genius init-model --help` lists
// what the chosen backend can build and the host names no architecture.
// The model is assembled in DIR.partial/ and renamed to DIR when complete.
#include <iostream>

#include <genius/model_backend.hpp>

#include "cli.hpp"
#include "config/config.hpp"
#include "io/durable_dir.hpp"
#include "io/errors.hpp"
#include "plugins/plugin_registry.hpp"

namespace genius::cli {
namespace fs = std::filesystem;

namespace {

std::string flag_of(const ConfigKey& key) {
  if (!key.flag.empty()) return key.flag;
  std::string f = key.name;
  for (char& c : f)
    if (c == '_') c = '-';
  return f;
}

// The value of --backend in `args` ("" when absent): needed before the
// options can be declared, since the backend's keys are options.
std::string backend_argument(const Args& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--backend" && i + 1 < args.size()) return args[i + 1];
    if (args[i].rfind("--backend=", 0) == 0) return args[i].substr(10);
  }
  return "";
}

}  // namespace

int init_model_command(const Args& args) {
  std::optional<core::PluginRegistry> registry;
  std::string backend;
  const PluginManifest* manifest = nullptr;
  try {
    registry.emplace(core::discover_plugins({}));
    registry->throw_if_errors();
    backend = core::choose_backend(*registry, backend_argument(args));
    manifest = &registry->find(PluginKind::ModelBackend, backend)->manifest;
  } catch (const std::exception& e) {
    std::cerr << "genius init-model: " << core::describe(e) << "\n";
    return core::kExitUsageError;
  }
  po::options_description options("Options");
  options.add_options()("out", po::value<std::string>()->value_name("DIR"), "output directory (must not hold a model)")(
      "backend", po::value<std::string>()->value_name("NAME"),
      "backend that creates the model (default: the only one installed)")(
      "seed", po::value<std::int64_t>()->default_value(0), "initialisation seed")(
      "set", po::value<std::vector<std::string>>()->value_name("KEY=VALUE"), "a model key by its name (repeatable)");
  po::options_description keys("Model keys of backend '" + backend + "' (docs: `genius plugins`)");
  for (const ConfigKey& key : manifest->model_keys) {
    const std::string doc = key.doc + " (" + key.name + ", default " + format_value(key.default_value) + ")";
    if (key.type() == ValueType::Bool)
      keys.add_options()(flag_of(key).c_str(), ("set " + key.name + " to the opposite of its default: " + doc).c_str());
    else
      keys.add_options()(flag_of(key).c_str(), po::value<std::string>()->value_name("VALUE"), doc.c_str());
  }
  options.add(keys);
  const Parsed vm = parse("init-model", "--out DIR [--backend NAME] [--seed N] [--<model key> VALUE]...", args, options,
                          [&](const po::variables_map& given) {
                            if (!given.count("out")) throw po::error("missing --out");
                            check_range(given, "seed", 0);
                          });
  if (!vm) return vm.exit_code;
  const fs::path out = fs::path((*vm)["out"].as<std::string>()).lexically_normal();
  if (fs::exists(out / "config.json")) {
    std::cerr << "init-model: '" << out.string() << "' already holds a model (config.json); choose another --out\n";
    return core::kExitUsageError;
  }
  // The flags and --set KEY=VALUE, in that order, as (key, text) pairs.
  std::vector<std::pair<std::string, std::string>> given;
  std::vector<std::string> origin;  // the option each pair came from
  for (const ConfigKey& key : manifest->model_keys) {
    const std::string flag = flag_of(key);
    if (!vm->count(flag)) continue;
    const bool flips = key.type() == ValueType::Bool;
    given.emplace_back(key.name,
                       flips ? (std::get<bool>(key.default_value) ? "false" : "true") : (*vm)[flag].as<std::string>());
    origin.push_back("--" + flag);
  }
  if (vm->count("set"))
    for (const std::string& s : (*vm)["set"].as<std::vector<std::string>>()) {
      const auto eq = s.find('=');
      if (eq == std::string::npos || eq == 0)
        return usage_error("init-model", "--set expects KEY=VALUE, got '" + s + "'");
      given.emplace_back(s.substr(0, eq), s.substr(eq + 1));
      origin.push_back("--set");
    }
  try {
    // Each value alone first, so that an error names the option it came from.
    for (std::size_t i = 0; i < given.size(); ++i)
      (void)core::resolve_keys("model", manifest->model_keys, {given[i]}, "init-model " + origin[i]);
    const ConfigView model_keys = core::resolve_keys("model", manifest->model_keys, given, "init-model");
    const fs::path staging = out.parent_path() / (out.filename().string() + ".partial");
    fs::remove_all(staging);
    std::shared_ptr<ModelBackend> model;
    try {
      registry->create_model(backend, model_keys, static_cast<std::uint64_t>((*vm)["seed"].as<std::int64_t>()),
                             staging);
      // Loaded back as a run would load it, before it takes --out's place:
      // the model is usable (and its size is printed below).
      model = load_backend(*registry, backend, staging);
    } catch (...) {
      fs::remove_all(staging);  // no half-written model left behind
      throw;
    }
    core::replace_directory(staging, out);
    std::int64_t params = 0;
    for (const auto& p : model->parameters()) params += p.numel();
    std::cout << "wrote " << out.string() << ": " << backend;
    for (const ConfigKey& key : manifest->model_keys)
      std::cout << ", " << key.name << " = " << format_value(model_keys.values().at(key.name));
    std::cout << "; " << params << " parameters, vocabulary " << model->vocab_size() << "\n";
  } catch (const core::ConfigValidationError& e) {
    std::cerr << core::describe(e) << "\n";
    return core::kExitUsageError;
  } catch (const std::exception& e) {
    std::cerr << "init-model: " << core::describe(e) << "\n";
    return core::kExitUsageError;  // the shape or vocabulary given does not make a model
  }
  return core::kExitOk;
}

}  // namespace genius::cli
