// The other models plugins work with: a sampler or value estimator declares a
// role in its manifest (PluginManifest::uses_model, today "critic"), the
// config gives the role's section ([critic]: a backend plugin and its keys),
// and the pool makes that model once, checked like the policy, and hands it
// to every plugin that asked (Plugin::attach_model). validate() has already
// refused a config whose plugins ask for a section it lacks.
//
//   ModelPool models(registry, config);
//   models.attach(*sampler, "sampler");         // creates [critic] on first use
//   if (CheckedBackend* critic = models.find("critic")) critic->scored_tokens();
#pragma once

#include <map>
#include <memory>
#include <string>

#include <genius/plugin.hpp>

#include "config/config.hpp"
#include "plugins/checked_backend.hpp"
#include "plugins/plugin_registry.hpp"

namespace genius::core {

class ModelPool {
 public:
  ModelPool(const PluginRegistry& registry, const ResolvedConfig& config) : registry_(registry), config_(config) {}

  /// Hand `plugin`, created from the config's `section`, every model its
  /// manifest declares, creating each on first use.
  void attach(Plugin& plugin, const std::string& section);
  /// The model of `role` ("critic"), created now if the config has its section;
  /// nullptr when it does not.
  CheckedBackend* get(const std::string& role);
  /// The model of `role` if one was created already, else nullptr.
  CheckedBackend* find(const std::string& role) const;

 private:
  const PluginRegistry& registry_;
  const ResolvedConfig& config_;
  std::map<std::string, std::shared_ptr<CheckedBackend>> models_;
};

}  // namespace genius::core
