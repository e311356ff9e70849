// genius/plugin.hpp — the base class of every plugin interface.
//
// Plugin authors derive from one of the four interfaces (ModelBackend,
// Sampler, ValueEstimator, Loss), never from Plugin directly. The host keeps
// the shared library loaded for as long as any object it created is alive.
#pragma once

#include <string>

#include <genius/error.hpp>
#include <genius/manifest.hpp>

namespace genius {

class ModelBackend;

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

  /// Receive a model the manifest asked for (PluginManifest::uses_model):
  /// `role` is its name there ("critic"). The host calls this once per
  /// declared role, before any other call, and keeps `model` alive (and
  /// checked, like the policy) for as long as this object lives. Only one
  /// thread uses a plugin at a time, so the model needs no locking.
  virtual void attach_model(const std::string& role, ModelBackend& model) {
    (void)model;
    throw PluginError(name_, "declares no use of a '" + role + "' model");
  }

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
