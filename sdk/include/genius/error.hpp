// genius/error.hpp — the one exception type that crosses the plugin boundary.
//
// A plugin reports failure by throwing genius::PluginError, whose message
// starts with the plugin's name; the host prints it and stops the run cleanly
// with exit code 1. (Any other std::exception also stops the run, but its
// message is printed as it is.) Never return NaN or a half-filled result to
// signal an error.
#pragma once

#include <stdexcept>
#include <string>

namespace genius {

class PluginError : public std::runtime_error {
 public:
  /// `plugin` is the plugin's manifest name ("aco"); `message` says what went
  /// wrong in terms the user can act on (which input, which key, which file).
  PluginError(std::string plugin, const std::string& message)
      : std::runtime_error("plugin '" + plugin + "': " + message), plugin_(std::move(plugin)) {}

  const std::string& plugin() const noexcept { return plugin_; }

 private:
  std::string plugin_;
};

/// A configuration value is missing, has the wrong type or is out of range.
/// Thrown by ConfigView; the host normally catches these problems earlier,
/// during validation against the manifest, with file and line numbers.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace genius
