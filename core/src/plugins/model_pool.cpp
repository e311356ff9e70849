#include "plugins/model_pool.hpp"

#include <stdexcept>

#include <genius/model_backend.hpp>

namespace genius::core {

CheckedBackend* ModelPool::get(const std::string& role) {
  if (CheckedBackend* model = find(role)) return model;
  const std::string backend = config_.plugin(role);
  if (backend.empty()) return nullptr;
  auto made = registry_.create_as<ModelBackend>(PluginKind::ModelBackend, backend, config_.view(role));
  auto& slot = models_[role];
  slot = std::make_shared<CheckedBackend>(std::move(made));
  return slot.get();
}

CheckedBackend* ModelPool::find(const std::string& role) const {
  const auto it = models_.find(role);
  return it == models_.end() ? nullptr : it->second.get();
}

void ModelPool::attach(Plugin& plugin, const std::string& section) {
  const PluginInfo* info = registry_.find(plugin.kind(), config_.plugin(section));
  if (!info) return;
  for (const std::string& role : info->manifest.models) {
    CheckedBackend* model = get(role);
    if (!model)  // validate() refuses such a config; a caller that skipped it gets the same words
      throw std::runtime_error("[" + section + "] plugin '" + plugin.name() + "' needs a [" + role +
                               "] section: plugin = the model backend, path = the model directory");
    plugin.attach_model(role, *model);
  }
}

}  // namespace genius::core
