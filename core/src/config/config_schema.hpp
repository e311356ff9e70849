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

/// A key of a core section that holds an array of tables, written
/// `[[section.key]]` (`[[eval.sets]]`): each entry is checked against `keys`
/// like a section, must give every key of `required`, and its first required
/// key is its name, unique among the entries.
struct TableArraySpec {
  std::string key;                    ///< "sets"
  std::vector<ConfigKey> keys;        ///< every key an entry may give
  std::vector<std::string> required;  ///< keys every entry must give; the first is its name
  std::vector<std::string> reserved;  ///< names an entry may not take
  std::string doc;                    ///< one line for docs
};

/// The table-array keys of a core section (none for most sections).
const std::vector<TableArraySpec>& core_table_arrays(const std::string& section);

}  // namespace genius::core
