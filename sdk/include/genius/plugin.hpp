// genius/plugin.hpp — the base class of every plugin interface.
//
// Plugin authors derive from one of the four interfaces (ModelBackend,
// Sampler, ValueEstimator, Loss), never from Plugin directly. The host keeps
// the shared library loaded for as long as any object it created is alive.
#pragma once

#include <string>

#include <genius/manifest.hpp>

namespace genius {

namespace detail {
struct PluginAccess;
}

class Plugin {
 public:
  virtual ~Plugin() = default;
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  /// The kind of interface this object implements (set by the interface).
  PluginKind kind() const { return kind_; }
  /// The manifest name this object was created under (set by the factory),
  /// for error messages: throw PluginError(name(), "...").
  const std::string& name() const { return name_; }

 protected:
  explicit Plugin(PluginKind kind) : kind_(kind) {}

 private:
  friend struct detail::PluginAccess;
  PluginKind kind_;
  std::string name_;
};

namespace detail {
struct PluginAccess {
  static void set_name(Plugin& p, std::string name) { p.name_ = std::move(name); }
};
}  // namespace detail

}  // namespace genius
