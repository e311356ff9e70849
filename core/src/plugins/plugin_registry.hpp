// Plugin discovery and loading (Boost.DLL).
//
// Search order (first found wins only in the sense that all are loaded and a
// kind+name seen twice is an error naming both files):
//   1. <dir of the genius executable>/../lib/genius/plugins  (built or installed beside it)
//   2. each entry of GENIUS_PLUGIN_PATH (':'-separated directories or library files)
//   3. each entry of [run] plugin_path in the config (relative to the config file)
// The working directory is never searched implicitly.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <genius/config.hpp>
#include <genius/manifest.hpp>
#include <genius/plugin.hpp>

#include "config/config.hpp"

namespace boost::dll {
class shared_library;
}

namespace genius::core {

/// A library could not be loaded, is not a Genius plugin, was built for another
/// ABI, or clashes with another plugin. The message names the file(s).
class PluginLoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One plugin library: its manifest (read without creating the plugin) and file.
struct PluginInfo {
  PluginManifest manifest;
  std::filesystem::path file;
};

class PluginRegistry {
 public:
  PluginRegistry();
  ~PluginRegistry();
  PluginRegistry(PluginRegistry&&) noexcept;
  PluginRegistry& operator=(PluginRegistry&&) noexcept;

  /// The directory beside the running executable: <exe dir>/../lib/genius/plugins
  /// (../<libdir>/genius/plugins for another CMAKE_INSTALL_LIBDIR).
  static std::filesystem::path builtin_directory();
  /// Entries of GENIUS_PLUGIN_PATH (empty entries skipped).
  static std::vector<std::filesystem::path> environment_path();

  /// Load every library (platform suffix, e.g. ".so") in `dir`, in name order.
  /// Problems are recorded in errors() and the scan goes on. A directory that
  /// does not exist is an error when `required` and skipped otherwise.
  void add_directory(const std::filesystem::path& dir, bool required);
  /// Load one library file or every library in a directory (see add_directory).
  void add_path(const std::filesystem::path& path, bool required);
  /// Load one library; throws PluginLoadError naming the file and the reason.
  void add_library(const std::filesystem::path& file);

  /// What went wrong while scanning, one message per file (empty = all good).
  const std::vector<std::string>& errors() const { return errors_; }
  /// Throw PluginLoadError listing every error, if there is any.
  void throw_if_errors() const;

  /// All loaded plugins, sorted by kind then name.
  std::vector<const PluginInfo*> plugins() const;
  const PluginInfo* find(PluginKind kind, const std::string& name) const;
  std::vector<std::string> names(PluginKind kind) const;

  /// Create the plugin `name` of `kind` from validated `config`. The returned
  /// object keeps its library loaded. Throws PluginLoadError if absent and
  /// rethrows what the plugin's constructor throws.
  std::shared_ptr<Plugin> create(PluginKind kind, const std::string& name, const ConfigView& config) const;

  /// Have backend `name` write a new model into `out` from validated
  /// `model_keys` (its manifest's model_keys) and `seed`. Throws
  /// PluginLoadError if absent, PluginError if it creates no models, and
  /// rethrows what the plugin throws.
  void create_model(const std::string& name, const ConfigView& model_keys, std::uint64_t seed,
                    const std::filesystem::path& out) const;

  template <class Interface>
  std::shared_ptr<Interface> create_as(PluginKind kind, const std::string& name, const ConfigView& config) const {
    // Safe: create() verified that the object's kind() is `kind`, and every
    // interface of a kind derives directly and singly from Plugin.
    return std::static_pointer_cast<Interface>(create(kind, name, config));
  }

 private:
  struct Entry;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<std::string> errors_;
};

/// The backend a model command uses: `requested`, or when that is empty the
/// only backend installed (or, among several, the only one beside the
/// executable). Throws PluginLoadError naming the installed ones
/// when `requested` is not installed or when several are and none was named.
std::string choose_backend(const PluginRegistry& registry, const std::string& requested);

/// The plugin of `kind` that `config` selects in the kind's section
/// ([model], [sampler], [value], [loss]), created with that section's keys.
template <class Interface>
std::shared_ptr<Interface> create_configured(const PluginRegistry& registry, const ResolvedConfig& config,
                                             PluginKind kind) {
  const std::string section = config_section(kind);
  return registry.create_as<Interface>(kind, config.plugin(section), config.view(section));
}

}  // namespace genius::core
