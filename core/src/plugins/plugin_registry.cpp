#include "plugins/plugin_registry.hpp"

#include <algorithm>
#include <cstdlib>
#include <set>
#include <sstream>
#include <tuple>

#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>

#include <genius/abi.hpp>
#include <genius/error.hpp>
#include <genius/registration.hpp>

#include "plugins/library_file.hpp"

namespace genius::core {

namespace fs = std::filesystem;

struct PluginRegistry::Entry {
  PluginInfo info;
  std::shared_ptr<boost::dll::shared_library> library;
  detail::CreateFn* create = nullptr;
  detail::CreateModelFn* create_model = nullptr;  ///< absent in libraries built before ABI 3
};

PluginRegistry::PluginRegistry() = default;
PluginRegistry::~PluginRegistry() = default;
PluginRegistry::PluginRegistry(PluginRegistry&&) noexcept = default;
PluginRegistry& PluginRegistry::operator=(PluginRegistry&&) noexcept = default;

fs::path PluginRegistry::builtin_directory() {
  const fs::path exe_dir = boost::dll::program_location().parent_path().string();
  return (exe_dir / GENIUS_PLUGIN_DIR_FROM_BIN).lexically_normal();
}

std::vector<fs::path> PluginRegistry::environment_path() {
  std::vector<fs::path> out;
  const char* env = std::getenv("GENIUS_PLUGIN_PATH");
  if (!env) return out;
  std::stringstream ss(env);
  for (std::string item; std::getline(ss, item, ':');)
    if (!item.empty()) out.emplace_back(item);  // an empty entry must not mean "."
  return out;
}

void PluginRegistry::add_directory(const fs::path& dir, bool required) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    if (required) errors_.push_back("plugin directory '" + dir.string() + "' does not exist");
    return;
  }
  std::vector<fs::path> files;
  const std::string suffix = boost::dll::shared_library::suffix().string();
  for (const auto& item : fs::directory_iterator(dir, ec))
    if (item.path().extension() == suffix && !fs::is_directory(item.path())) files.push_back(item.path());
  if (ec) errors_.push_back("cannot list plugin directory '" + dir.string() + "': " + ec.message());
  std::sort(files.begin(), files.end());
  for (const auto& file : files) {
    try {
      add_library(file);
    } catch (const PluginLoadError& e) {
      errors_.push_back(e.what());
    }
  }
}

void PluginRegistry::add_path(const fs::path& path, bool required) {
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    try {
      add_library(path);
    } catch (const PluginLoadError& e) {
      errors_.push_back(e.what());
    }
  } else {
    add_directory(path, required);
  }
}

void PluginRegistry::add_library(const fs::path& file_in) {
  std::error_code ec;
  const fs::path file = fs::weakly_canonical(file_in, ec);
  const std::string name = file.string();
  for (const auto& e : entries_)
    if (e->info.file == file) return;  // the same file reached twice through the search path
  if (!fs::exists(file)) throw PluginLoadError("plugin library '" + name + "': no such file");

  if (const std::string problem = library_file_problem(file); !problem.empty())
    throw PluginLoadError("cannot load plugin library '" + name + "': " + problem + "; rebuild or reinstall it");
  auto library = std::make_shared<boost::dll::shared_library>();
  try {
    // rtld_now: unresolved symbols fail here, with the loader's reason, not mid-run.
    library->load(boost::dll::fs::path(name), boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    throw PluginLoadError("cannot load plugin library '" + name + "': " + loader_reason(e.what()));
  }
  if (!library->has("genius_plugin_abi"))
    throw PluginLoadError("'" + name +
                          "' is not a Genius plugin: it exports no 'genius_plugin_abi' (build it with "
                          "GENIUS_REGISTER_PLUGIN from <genius/registration.hpp>)");

  const GeniusPluginAbi& theirs = *library->get_alias<detail::AbiFn>("genius_plugin_abi")();
  const GeniusPluginAbi& ours = this_build_abi();
  if (theirs.sdk_abi_version != ours.sdk_abi_version)
    throw PluginLoadError("'" + name + "' was built for Genius SDK ABI version " +
                          std::to_string(theirs.sdk_abi_version) + ", but this genius uses ABI version " +
                          std::to_string(ours.sdk_abi_version) + "; rebuild the plugin against this SDK");
  const std::string their_torch = theirs.torch_version ? theirs.torch_version : "(none)";
  if (their_torch != ours.torch_version)
    throw PluginLoadError("'" + name + "' was built against libtorch " + their_torch +
                          ", but this genius uses libtorch " + ours.torch_version +
                          "; rebuild the plugin against the same libtorch");
  if (theirs.cxx11_abi != ours.cxx11_abi)
    throw PluginLoadError("'" + name + "' was built with _GLIBCXX_USE_CXX11_ABI=" + std::to_string(theirs.cxx11_abi) +
                          ", but this genius uses _GLIBCXX_USE_CXX11_ABI=" + std::to_string(ours.cxx11_abi));
  if (!library->has("genius_plugin_manifest") || !library->has("genius_plugin_create"))
    throw PluginLoadError("'" + name + "' exports no plugin manifest or factory ('genius_plugin_manifest', " +
                          "'genius_plugin_create'); build it with GENIUS_REGISTER_PLUGIN");

  auto entry = std::make_unique<Entry>();
  try {
    entry->info.manifest = library->get_alias<detail::ManifestFn>("genius_plugin_manifest")();
  } catch (const std::exception& e) {
    throw PluginLoadError("'" + name + "': reading its manifest failed: " + e.what());
  }
  entry->info.file = file;
  entry->library = std::move(library);
  entry->create = &entry->library->get_alias<detail::CreateFn>("genius_plugin_create");
  if (entry->library->has("genius_plugin_create_model"))
    entry->create_model = &entry->library->get_alias<detail::CreateModelFn>("genius_plugin_create_model");

  const PluginManifest& m = entry->info.manifest;
  if (m.name.empty()) throw PluginLoadError("'" + name + "': its manifest has an empty name");
  if (!m.model_keys.empty() && m.kind != PluginKind::ModelBackend)
    throw PluginLoadError("'" + name + "': only a backend declares model keys (it is a " + to_string(m.kind) +
                          " plugin)");
  for (const auto& key : m.keys) {
    if (key.name == "plugin")
      throw PluginLoadError("'" + name + "': manifest key 'plugin' is reserved (it selects the plugin)");
    const auto* default_choice = std::get_if<std::string>(&key.default_value);
    if (!key.choices.empty() &&
        (!default_choice || std::find(key.choices.begin(), key.choices.end(), *default_choice) == key.choices.end()))
      throw PluginLoadError("'" + name + "': manifest key '" + key.name + "' has a default outside its choices");
  }
  if (const PluginInfo* other = find(m.kind, m.name))
    throw PluginLoadError(std::string("two ") + to_string(m.kind) + " plugins are named '" + m.name + "': '" +
                          other->file.string() + "' and '" + name + "'; remove one from the plugin path");
  entries_.push_back(std::move(entry));
}

void PluginRegistry::throw_if_errors() const {
  if (errors_.empty()) return;
  std::string message = errors_.front();
  for (std::size_t i = 1; i < errors_.size(); ++i) message += "\n" + errors_[i];
  throw PluginLoadError(message);
}

std::vector<const PluginInfo*> PluginRegistry::plugins() const {
  std::vector<const PluginInfo*> out;
  for (const auto& e : entries_) out.push_back(&e->info);
  std::sort(out.begin(), out.end(), [](const PluginInfo* a, const PluginInfo* b) {
    return std::tie(a->manifest.kind, a->manifest.name) < std::tie(b->manifest.kind, b->manifest.name);
  });
  return out;
}

const PluginInfo* PluginRegistry::find(PluginKind kind, const std::string& name) const {
  for (const auto& e : entries_)
    if (e->info.manifest.kind == kind && e->info.manifest.name == name) return &e->info;
  return nullptr;
}

std::vector<std::string> PluginRegistry::names(PluginKind kind) const {
  std::vector<std::string> out;
  for (const PluginInfo* info : plugins())
    if (info->manifest.kind == kind) out.push_back(info->manifest.name);
  return out;
}

std::shared_ptr<Plugin> PluginRegistry::create(PluginKind kind, const std::string& name,
                                               const ConfigView& config) const {
  const Entry* entry = nullptr;
  for (const auto& e : entries_)
    if (e->info.manifest.kind == kind && e->info.manifest.name == name) entry = e.get();
  if (!entry) throw PluginLoadError(std::string("no ") + to_string(kind) + " plugin named '" + name + "'");

  std::unique_ptr<Plugin> plugin = (*entry->create)(config);
  if (!plugin) throw PluginError(name, "its factory returned no object");
  if (plugin->kind() != kind)
    throw PluginError(name, std::string("created a ") + to_string(plugin->kind()) + " plugin, expected a " +
                                to_string(kind) + " plugin");
  // The deleter owns a reference to the library: the code of the object's
  // destructor stays mapped until the object is gone.
  auto library = entry->library;
  return std::shared_ptr<Plugin>(plugin.release(), [library](Plugin* p) { delete p; });
}

void PluginRegistry::create_model(const std::string& backend, const ConfigView& model_keys, std::uint64_t seed,
                                  const fs::path& out) const {
  const Entry* entry = nullptr;
  for (const auto& e : entries_)
    if (e->info.manifest.kind == PluginKind::ModelBackend && e->info.manifest.name == backend) entry = e.get();
  if (!entry) throw PluginLoadError("no backend plugin named '" + backend + "'");
  if (!entry->create_model) throw PluginError(backend, "this backend does not create new models");
  (*entry->create_model)(model_keys, seed, out);
}

std::string choose_backend(const PluginRegistry& registry, const std::string& requested) {
  const std::vector<std::string> names = registry.names(PluginKind::ModelBackend);
  auto listing = [&] {
    std::string out;
    for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
    return names.empty() ? std::string("none is installed") : "installed: " + out;
  };
  if (!requested.empty()) {
    if (!registry.find(PluginKind::ModelBackend, requested))
      throw PluginLoadError("no backend plugin named '" + requested + "' (" + listing() + ")");
    return requested;
  }
  if (names.size() == 1) return names.front();
  // Several: the one that ships beside the executable, if it is alone there.
  std::vector<std::string> builtin;
  for (const std::string& n : names)
    if (registry.find(PluginKind::ModelBackend, n)->file.parent_path().lexically_normal() ==
        PluginRegistry::builtin_directory())
      builtin.push_back(n);
  if (builtin.size() == 1) return builtin.front();
  throw PluginLoadError("choose a model backend with --backend NAME (" + listing() + ")");
}

}  // namespace genius::core
