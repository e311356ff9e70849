// Typed config values from TOML nodes: the one conversion that every
// config key, --set option, command-line flag and table-array entry goes
// through (type, range and choices checked, with the message a user sees).
#pragma once

#include <optional>
#include <string>

#include <toml++/toml.h>

#include <genius/config.hpp>
#include <genius/manifest.hpp>

namespace genius::core {

/// "table", "array", "string", "int", "float", "bool", ...
const char* toml_type_name(const toml::node& n);

/// `node` as a value of `spec`'s type, within its bounds and choices; on a
/// problem nullopt, with `error` saying what was expected.
std::optional<ConfigValue> convert(const toml::node& node, const ConfigKey& spec, std::string& error);

}  // namespace genius::core
