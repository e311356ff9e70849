// genius/manifest.hpp — what a plugin library says about itself.
//
// Every plugin exports one PluginManifest. The host reads it without creating
// the plugin: `genius plugins` lists it, and the run's config section for the
// plugin is validated against its keys (unknown key, wrong type, out of range,
// not one of the choices: each is an error naming the file, line and key).
//
//     const genius::PluginManifest& MyLoss::manifest() {
//       static const auto m = genius::PluginManifest(genius::PluginKind::Loss, "hinge", "1.0.0",
//                                                   "SLiC-style hinge loss on the log-ratio margin")
//           .key("beta", 0.1, "scale of the log-ratio margin", genius::at_least(0.0, false))
//           .key("margin", 1.0, "hinge margin delta");
//       return m;
//     }
#pragma once

#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <genius/config.hpp>

namespace genius {

/// The four kinds of plugin. Each kind has its own interface header and its own
/// config section: backend -> [model], sampler -> [sampler], value -> [value],
/// loss -> [loss].
enum class PluginKind { ModelBackend, Sampler, ValueEstimator, Loss };

/// Short name of a kind as used on the command line and in JSON: "backend",
/// "sampler", "value", "loss".
inline const char* to_string(PluginKind k) {
  switch (k) {
    case PluginKind::ModelBackend:
      return "backend";
    case PluginKind::Sampler:
      return "sampler";
    case PluginKind::ValueEstimator:
      return "value";
    case PluginKind::Loss:
      return "loss";
  }
  return "?";
}

/// The config section that selects and configures a plugin of this kind.
inline const char* config_section(PluginKind k) {
  switch (k) {
    case PluginKind::ModelBackend:
      return "model";
    case PluginKind::Sampler:
      return "sampler";
    case PluginKind::ValueEstimator:
      return "value";
    case PluginKind::Loss:
      return "loss";
  }
  return "?";
}

/// Allowed range of a numeric key. Bounds are inclusive unless marked otherwise.
struct Bounds {
  std::optional<double> min;
  std::optional<double> max;
  bool min_inclusive = true;
  bool max_inclusive = true;
};
inline Bounds at_least(double min, bool inclusive = true) {
  return {min, std::nullopt, inclusive, true};
}
inline Bounds at_most(double max, bool inclusive = true) {
  return {std::nullopt, max, true, inclusive};
}
inline Bounds between(double min, double max) {
  return {min, max, true, true};
}

/// One configuration key a plugin (or the core) accepts.
struct ConfigKey {
  std::string name;                  ///< key inside the section, e.g. "beta"
  ConfigValue default_value;         ///< its type is the key's type
  std::string doc;                   ///< one line for `genius plugins` and docs
  Bounds bounds;                     ///< numeric keys (and numeric lists): allowed range
  std::vector<std::string> choices;  ///< string keys: allowed values (empty = any)
  bool is_path = false;              ///< string (list) of file paths: the host makes
                                     ///< relative paths relative to the config file
  std::string flag;                  ///< model keys: the `genius init-model --FLAG` spelling
                                     ///< ("" = the name with '-' for '_'); a bool key's flag
                                     ///< takes no value and sets the opposite of the default
  std::size_t min_size = 0;          ///< string keys: fewest characters; lists: fewest elements
  std::size_t max_size = std::numeric_limits<std::size_t>::max();  ///< ... the most

  ValueType type() const { return type_of(default_value); }
};

/// Kind, name, version, description and config keys of one plugin.
struct PluginManifest {
  PluginKind kind = PluginKind::Loss;
  std::string name;         ///< selects the plugin in TOML: `plugin = "<name>"`
  std::string version;      ///< the plugin's own version, e.g. "1.0.0"
  std::string description;  ///< one line
  std::vector<ConfigKey> keys;
  /// Backends that create new models (a static `create_model`, see
  /// registration.hpp): the keys describing a new model, set by
  /// `genius init-model` flags and the [pretrain.model] section.
  std::vector<ConfigKey> model_keys;
  /// Samplers and value estimators: the other models the plugin works with,
  /// by role (today "critic", the [critic] section's model). The host creates
  /// each from its section and hands it over with Plugin::attach_model before
  /// the first call; a config that selects the plugin without the section is
  /// refused before the run starts.
  std::vector<std::string> models;

  PluginManifest() = default;
  PluginManifest(PluginKind k, std::string n, std::string v, std::string d)
      : kind(k), name(std::move(n)), version(std::move(v)), description(std::move(d)) {}

  /// Declare a key; its type is the type of `default_value`: `0.1` declares
  /// a float key, `4` an int key, `true` a bool key, `"text"` a string key,
  /// `std::vector<std::string>{...}` a string list.
  PluginManifest& key(std::string key_name, ConfigValue default_value, std::string doc, Bounds bounds = {}) {
    target().push_back({std::move(key_name), std::move(default_value), std::move(doc), bounds, {}, false, {}});
    return *this;
  }
  // Exact overloads, so that a literal never converts to the wrong alternative
  // (0.1 to int, true to int, "x" to bool).
  PluginManifest& key(std::string key_name, double v, std::string doc, Bounds bounds = {}) {
    return key(std::move(key_name), ConfigValue(v), std::move(doc), bounds);
  }
  PluginManifest& key(std::string key_name, int v, std::string doc, Bounds bounds = {}) {
    return key(std::move(key_name), ConfigValue(std::int64_t{v}), std::move(doc), bounds);
  }
  PluginManifest& key(std::string key_name, std::int64_t v, std::string doc, Bounds bounds = {}) {
    return key(std::move(key_name), ConfigValue(v), std::move(doc), bounds);
  }
  PluginManifest& key(std::string key_name, bool v, std::string doc) {
    return key(std::move(key_name), ConfigValue(v), std::move(doc), Bounds{});
  }
  PluginManifest& key(std::string key_name, const char* v, std::string doc) {
    return key(std::move(key_name), ConfigValue(std::string(v)), std::move(doc), Bounds{});
  }
  /// Declare a string key restricted to `choices` (the default must be one).
  PluginManifest& choice(std::string key_name, std::string default_value, std::vector<std::string> choices,
                         std::string doc) {
    target().push_back({std::move(key_name),
                        ConfigValue(std::move(default_value)),
                        std::move(doc),
                        {},
                        std::move(choices),
                        false,
                        {}});
    return *this;
  }
  /// Declare a file-path key (a string, or a string list). Relative values are
  /// resolved against the config file's directory before the plugin sees them,
  /// so the plugin always receives an absolute path (or "" when unset).
  PluginManifest& path(std::string key_name, ConfigValue default_value, std::string doc) {
    target().push_back({std::move(key_name), std::move(default_value), std::move(doc), {}, {}, true, {}});
    return *this;
  }
  /// Every key declared after this call is a model key (`model_keys`), not a
  /// config key of the plugin's section.
  PluginManifest& model_creation() {
    declaring_model_keys_ = true;
    return *this;
  }
  /// The command-line flag of the key declared last (see ConfigKey::flag).
  /// Declare a model the plugin needs (see `models`), e.g. uses_model("critic").
  PluginManifest& uses_model(std::string role) {
    models.push_back(std::move(role));
    return *this;
  }
  PluginManifest& flag(std::string flag_name) {
    if (!target().empty()) target().back().flag = std::move(flag_name);
    return *this;
  }
  /// The allowed length of the key declared last: characters of a string,
  /// elements of a list (e.g. `.size(1)`: not empty; `.size(2, 2)`: a pair).
  PluginManifest& size(std::size_t min, std::size_t max = std::numeric_limits<std::size_t>::max()) {
    if (!target().empty()) target().back().min_size = min, target().back().max_size = max;
    return *this;
  }

  const ConfigKey* find_key(const std::string& key_name) const {
    for (const auto& k : keys)
      if (k.name == key_name) return &k;
    return nullptr;
  }

 private:
  std::vector<ConfigKey>& target() { return declaring_model_keys_ ? model_keys : keys; }
  bool declaring_model_keys_ = false;
};

}  // namespace genius
