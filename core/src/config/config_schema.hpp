// The core's own config keys: sections [run] [data] [train] [eval], plus the
// section names of the four plugin kinds. docs/config.md documents each key;
// a test checks that every key here appears there.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <genius/manifest.hpp>

namespace genius::core {

/// Every section a run config may have, in the order they are written.
const std::vector<std::string>& config_sections();

/// The plugin kind a section selects ([model] -> ModelBackend ...), if any.
std::optional<PluginKind> plugin_kind_of_section(const std::string& section);

/// Keys of a core section ([run], [data], [train], [eval]); empty for plugin sections.
const std::vector<ConfigKey>& core_keys(const std::string& section);

}  // namespace genius::core
