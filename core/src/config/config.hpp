// Run configuration: one TOML file + `--set section.key=value` overrides,
// validated against the core schema and the chosen plugins' manifests.
//
//   RawConfig raw = RawConfig::load("run.toml", {"loss.beta=0.2"});
//   PluginRegistry registry = discover_plugins(raw.plugin_path());
//   ResolvedConfig cfg = validate(raw, registry);   // all errors at once
//   cfg.view("loss").get<double>("beta");
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <genius/config.hpp>
#include <genius/manifest.hpp>

namespace genius::core {

class PluginRegistry;

/// Where a value came from: a line of the config file, or a --set option.
struct SourceLocation {
  std::string file;  ///< config file path, or "--set" for an override
  long line = 0;     ///< 1-based; 0 = unknown (the file as a whole)
  long column = 0;
  std::string str() const;  ///< "run.toml:12:3", "run.toml", "--set"
};

/// One problem in a config: where, which key, what, and a suggestion.
struct ConfigDiagnostic {
  SourceLocation where;
  std::string key;          ///< "loss.beta", "loss" (section), "" (the file)
  std::string message;      ///< "unknown key 'betaa'; did you mean 'beta'?"
  std::string str() const;  ///< "run.toml:12:1: loss.betaa: unknown key ..."
};

/// Thrown with every problem found, not only the first.
class ConfigValidationError : public std::runtime_error {
 public:
  explicit ConfigValidationError(std::vector<ConfigDiagnostic> diagnostics);
  const std::vector<ConfigDiagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<ConfigDiagnostic> diagnostics_;
};

/// A parsed config file with the overrides applied; not yet validated.
class RawConfig {
 public:
  /// Parse `file` (TOML syntax errors and malformed --set options throw
  /// ConfigValidationError with their locations).
  static RawConfig load(const std::filesystem::path& file, const std::vector<std::string>& overrides = {});
  /// Parse TOML text; `file` is only used in messages and to resolve paths.
  static RawConfig parse(const std::string& text, const std::filesystem::path& file,
                         const std::vector<std::string>& overrides = {});

  RawConfig(RawConfig&&) noexcept;
  RawConfig& operator=(RawConfig&&) noexcept;
  ~RawConfig();

  const std::filesystem::path& file() const;
  const std::vector<std::string>& overrides() const;
  /// [run] plugin_path resolved against the config's directory (entries of the
  /// wrong type are skipped here and reported by validate()).
  std::vector<std::filesystem::path> plugin_path() const;
  /// The `plugin` named in [section] (after the overrides); "" when none.
  std::string plugin_name(const std::string& section) const;
  /// Drop every key the file gives [section] except `plugin`, keeping those
  /// set by overrides: a sweep cell that selects another plugin than its base
  /// config starts that section from the new plugin's defaults.
  void drop_file_keys(const std::string& section);

  struct Impl;
  const Impl& impl() const { return *impl_; }

 private:
  explicit RawConfig(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// A validated config: every section with every key, defaults filled in,
/// relative paths made absolute.
class ResolvedConfig {
 public:
  const std::filesystem::path& file() const { return file_; }
  /// The keys of `section` (without `plugin`), for the core or a plugin.
  ConfigView view(const std::string& section) const;
  /// The entries of a table-array key (`[[eval.sets]]` is ("eval", "sets")),
  /// in the file's order, each with every key; empty when none is given.
  std::vector<ConfigView> table_array(const std::string& section, const std::string& key) const;
  /// The plugin selected in a plugin section, "" when the section is absent.
  std::string plugin(const std::string& section) const;
  /// The whole config as TOML; loading it again gives the same config.
  std::string to_toml() const;
  /// Where "section.key" was given (its line, or the --set option); the file
  /// as a whole for a key left at its default.
  SourceLocation where(const std::string& key) const;

 private:
  friend ResolvedConfig validate(const RawConfig&, const PluginRegistry&);
  std::filesystem::path file_;
  std::vector<std::string> overrides_;
  std::map<std::string, std::map<std::string, ConfigValue>> sections_;
  std::map<std::string, std::string> plugins_;
  std::map<std::string, std::vector<std::map<std::string, ConfigValue>>> arrays_;  ///< "eval.sets" -> entries
  std::map<std::string, SourceLocation> locations_;  ///< "section.key" -> where it was given
};

/// Check every key against the core schema and the selected plugins'
/// manifests. Throws ConfigValidationError listing all problems.
ResolvedConfig validate(const RawConfig& raw, const PluginRegistry& registry);

/// Values for `keys` from (key, text) pairs given outside a config file
/// (command-line flags): each text is read like a --set value, checked like a
/// config key, and every key not given takes its default. Throws
/// ConfigValidationError listing every problem, located at "SOURCE KEY=TEXT".
ConfigView resolve_keys(const std::string& section, const std::vector<ConfigKey>& keys,
                        const std::vector<std::pair<std::string, std::string>>& given, const std::string& source);

/// True when two ResolvedConfig::to_toml() texts hold the same config: equal
/// but for their comment headers (which name the source file and --set
/// options; a run may be resumed from a copy of its config).
bool same_resolved_config(const std::string& a, const std::string& b);

/// What differs between two ResolvedConfig::to_toml() texts, key by key:
/// "section.key (was X, now Y)", in key order; empty when they hold the same
/// config (as same_resolved_config decides).
std::vector<std::string> resolved_config_differences(const std::string& before, const std::string& now);

/// Plugin registry for a config: the built-in directory, GENIUS_PLUGIN_PATH,
/// then [run] plugin_path.
PluginRegistry discover_plugins(const std::vector<std::filesystem::path>& config_plugin_path);

/// The config in `config_file`'s directory whose [pretrain] out is
/// `model_dir` (the recipe that makes that model, `genius pretrain FILE`),
/// for a helpful error when the model is missing; nullopt when none is.
std::optional<std::filesystem::path> find_model_recipe(const std::filesystem::path& config_file,
                                                       const std::filesystem::path& model_dir);

}  // namespace genius::core
