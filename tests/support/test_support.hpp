// Helpers shared by the test suites that load the real plugins or make small
// real models with the `genius` binary.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>

#include "plugins/plugin_registry.hpp"

namespace genius::test {

/// The plugins built beside bin/genius, loaded once per test process.
inline const core::PluginRegistry& builtin_registry() {
  static const core::PluginRegistry registry = [] {
    core::PluginRegistry r;
    r.add_directory(GENIUS_PLUGIN_DIR, /*required=*/true);
    r.throw_if_errors();
    return r;
  }();
  return registry;
}

/// A fresh, empty path `<tmp>/<suite>_<pid>/<name>` (its parent exists).
inline std::filesystem::path scratch_dir(const std::string& suite, const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / (suite + "_" + std::to_string(::getpid())) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir.parent_path());
  return dir;
}

/// `genius init-model ARGS --out DIR`; throws when it fails.
inline void init_model(const std::filesystem::path& dir, const std::string& args) {
  const std::string command =
      std::string("'") + GENIUS_BINARY + "' init-model " + args + " --out '" + dir.string() + "' >/dev/null";
  if (std::system(command.c_str()) != 0) throw std::runtime_error("init-model failed: " + command);
}

}  // namespace genius::test
