#include "config/config.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include <genius/helpers/json_text.hpp>

#include "config/config_schema.hpp"
#include "config/config_values.hpp"
#include "config/suggest.hpp"
#include "plugins/plugin_registry.hpp"

namespace genius::core {

namespace fs = std::filesystem;

// ------------------------------------------------------------ diagnostics

std::string SourceLocation::str() const {
  std::string s = file;
  if (line > 0) s += ":" + std::to_string(line);
  if (line > 0 && column > 0) s += ":" + std::to_string(column);
  return s;
}

std::string ConfigDiagnostic::str() const {
  std::string s = where.str() + ": ";
  if (!key.empty()) s += excerpt(key, 120) + ": ";  // a key may be any length: only so much is echoed
  return s + message;
}

namespace {
std::string join_diagnostics(const std::vector<ConfigDiagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += (out.empty() ? "" : "\n") + d.str();
  return out;
}
}  // namespace

ConfigValidationError::ConfigValidationError(std::vector<ConfigDiagnostic> diagnostics)
    : std::runtime_error(join_diagnostics(diagnostics)), diagnostics_(std::move(diagnostics)) {}

// ------------------------------------------------------------- raw config

struct Override {
  std::string text;   ///< the whole option, "loss.beta=0.2"
  std::string value;  ///< the raw value text, "0.2"
};

struct RawConfig::Impl {
  fs::path file;
  std::vector<std::string> overrides;
  toml::table table;
  std::map<std::pair<std::string, std::string>, Override> overridden;  ///< (section, key) -> option
};

RawConfig::RawConfig(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
RawConfig::RawConfig(RawConfig&&) noexcept = default;
RawConfig& RawConfig::operator=(RawConfig&&) noexcept = default;
RawConfig::~RawConfig() = default;
const fs::path& RawConfig::file() const {
  return impl_->file;
}
const std::vector<std::string>& RawConfig::overrides() const {
  return impl_->overrides;
}

namespace {

SourceLocation location_of(const fs::path& file, const toml::source_region& region) {
  return {file.string(), static_cast<long>(region.begin.line), static_cast<long>(region.begin.column)};
}

// A value given as text (--set, a command-line flag), typed like a TOML value:
// 0.2 is a float, 3 an int, true a bool, [..] an array, "x" a string. Anything
// TOML cannot read is taken as a plain string (so `--set
// data.train=queries.jsonl` needs no quotes). Returns {v = <value>}.
toml::table value_table(const std::string& text) {
  toml::table parsed;
  try {
    parsed = toml::parse("v = " + text, std::string_view{"--set"});
  } catch (const toml::parse_error&) {
    parsed = toml::table{};
  }
  if (parsed.size() != 1 || !parsed.contains("v")) parsed = toml::table{{"v", text}};
  return parsed;
}

// "section.key=value" -> inserted into `table`; problems go to `out`.
void apply_override(RawConfig::Impl& impl, const std::string& option, std::vector<ConfigDiagnostic>& out) {
  const SourceLocation where{"--set " + option, 0, 0};
  const auto eq = option.find('=');
  if (eq == std::string::npos) {
    out.push_back({where, "", "expected section.key=value (for example loss.beta=0.2)"});
    return;
  }
  const std::string path = option.substr(0, eq), value = option.substr(eq + 1);
  const auto dot = path.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == path.size() || path.find('.', dot + 1) != std::string::npos) {
    out.push_back({where, path, "expected section.key=value (for example loss.beta=0.2)"});
    return;
  }
  const std::string section = path.substr(0, dot), key = path.substr(dot + 1);

  toml::table parsed = value_table(value);
  toml::node* existing = impl.table.get(section);
  if (existing && !existing->is_table()) {
    out.push_back({where, section, "is not a section in " + impl.file.string()});
    return;
  }
  if (!existing) impl.table.insert(section, toml::table{});
  toml::table& t = *impl.table.get(section)->as_table();
  parsed.get("v")->visit([&](auto& node) { t.insert_or_assign(key, std::move(node)); });
  impl.overridden[{section, key}] = Override{option, value};
}

}  // namespace

RawConfig RawConfig::parse(const std::string& text, const fs::path& file, const std::vector<std::string>& overrides) {
  auto impl = std::make_unique<Impl>();
  impl->file = file;
  impl->overrides = overrides;
  try {
    impl->table = toml::parse(text, file.string());
  } catch (const toml::parse_error& e) {
    throw ConfigValidationError({{location_of(file, e.source()), "", "invalid TOML: " + std::string(e.description())}});
  }
  std::vector<ConfigDiagnostic> problems;
  for (const auto& option : overrides) apply_override(*impl, option, problems);
  if (!problems.empty()) throw ConfigValidationError(std::move(problems));
  return RawConfig(std::move(impl));
}

RawConfig RawConfig::load(const fs::path& file, const std::vector<std::string>& overrides) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    throw ConfigValidationError(
        {{{file.string(), 0, 0}, "", fs::exists(file) ? "not a regular file" : "no such file"}});
  std::ifstream in(file, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (!in && !in.eof()) throw ConfigValidationError({{{file.string(), 0, 0}, "", "cannot read the file"}});
  return parse(ss.str(), file, overrides);
}

namespace {

fs::path config_dir(const fs::path& file) {
  const fs::path dir = fs::absolute(file).parent_path();
  return dir.empty() ? fs::current_path() : dir;
}

std::string resolve_path(const fs::path& file, const std::string& value) {
  if (value.empty()) return value;
  const fs::path p(value);
  return p.is_absolute() ? value : (config_dir(file) / p).lexically_normal().string();
}

}  // namespace

std::vector<fs::path> RawConfig::plugin_path() const {
  std::vector<fs::path> out;
  const toml::array* arr = impl_->table["run"]["plugin_path"].as_array();
  if (!arr) return out;
  for (const auto& item : *arr)
    if (auto s = item.value<std::string>()) {
      out.emplace_back(resolve_path(impl_->file, *s));
      std::error_code ec;
      if (!fs::exists(out.back(), ec)) {  // a plugin directory or library file
        const auto set = impl_->overridden.find({"run", "plugin_path"});
        const SourceLocation where = set != impl_->overridden.end() ? SourceLocation{"--set " + set->second.text, 0, 0}
                                                                    : location_of(impl_->file, item.source());
        throw ConfigValidationError({{where, "run.plugin_path",
                                      "'" + out.back().string() + "' does not exist (a plugin directory or library)"}});
      }
    }
  return out;
}

std::string RawConfig::plugin_name(const std::string& section) const {
  const toml::node* node = impl_->table[section]["plugin"].node();
  return node && node->is_string() ? node->as_string()->get() : std::string();
}

void RawConfig::drop_file_keys(const std::string& section) {
  toml::table* table = impl_->table[section].as_table();
  if (!table) return;
  std::vector<std::string> dropped;
  for (const auto& [k, node] : *table)
    if (k.str() != "plugin" && !impl_->overridden.count({section, std::string(k.str())})) dropped.emplace_back(k.str());
  for (const std::string& key : dropped) table->erase(key);
}

// -------------------------------------------------------------- validation

namespace {

std::vector<std::string> key_names(const std::vector<ConfigKey>& keys, bool with_plugin) {
  std::vector<std::string> out;
  if (with_plugin) out.emplace_back("plugin");
  for (const auto& k : keys) out.push_back(k.name);
  return out;
}

// "unknown key 'k'" with the nearest valid key, or the valid keys;
// `none` begins the message for an empty key list ("[loss] takes" no keys).
std::string unknown_key(const std::string& key, const std::vector<std::string>& names, const std::string& none) {
  std::string message = "unknown key '" + excerpt(key, 120) + "'";
  if (auto n = nearest(key, names); !n.empty()) return message + "; did you mean '" + n + "'?";
  return message + (names.empty() ? "; " + none + " no keys" : "; valid keys: " + join(names));
}

// Top level: only known sections, each a table. A section that exists only
// because of a --set option is reported against that option.
void check_sections(const RawConfig::Impl& in, std::vector<ConfigDiagnostic>& problems) {
  const std::vector<std::string>& sections = config_sections();
  auto section_location = [&](const std::string& section, const toml::node& node) -> SourceLocation {
    if (node.source().begin.line == 0)  // created by apply_override, not read from the file
      for (const auto& [where_key, o] : in.overridden)
        if (where_key.first == section) return {"--set " + o.text, 0, 0};
    return location_of(in.file, node.source());
  };
  for (const auto& [k, node] : in.table) {
    const std::string name(k.str());
    const SourceLocation loc = section_location(name, node);
    if (std::find(sections.begin(), sections.end(), name) == sections.end()) {
      std::string message = node.is_table() ? "unknown section [" + name + "]" : "key outside of any section";
      if (auto n = nearest(name, sections); !n.empty())
        message += "; did you mean [" + n + "]?";
      else
        message += "; sections are: " + join(sections);
      problems.push_back({loc, name, message});
    } else if (!node.is_table()) {
      problems.push_back({loc, name, "must be a section ([" + name + "]), not a " + toml_type_name(node)});
    }
  }
}

// [pretrain]'s keys: the core's, then the model keys of `backend` (none when
// it is not installed); a model key named like a core key is a problem.
std::vector<ConfigKey> pretrain_keys(const PluginInfo* backend, const fs::path& file,
                                     std::vector<ConfigDiagnostic>& problems) {
  std::vector<ConfigKey> keys = core_keys("pretrain");
  if (!backend) return keys;
  for (const ConfigKey& k : backend->manifest.model_keys) {
    const bool clash = std::any_of(keys.begin(), keys.end(), [&](const ConfigKey& c) { return c.name == k.name; });
    if (clash)
      problems.push_back({SourceLocation{file.string(), 0, 0}, "pretrain." + k.name,
                          "backend '" + backend->manifest.name +
                              "' declares a model key named like a [pretrain] key; rename it in the plugin"});
    else
      keys.push_back(k);
  }
  return keys;
}

// A plugin that declares a model (PluginManifest::models, e.g. "critic")
// needs the config section of that name, a backend and its path.
void check_declared_models(const std::map<std::string, std::string>& plugins, const PluginRegistry& registry,
                           const std::map<std::string, SourceLocation>& locations,
                           std::vector<ConfigDiagnostic>& problems) {
  for (const auto& [section, name] : plugins) {
    const std::optional<PluginKind> kind = plugin_kind_of_section(section);
    const PluginInfo* info = kind ? registry.find(*kind, name) : nullptr;
    if (!info) continue;
    for (const std::string& role : info->manifest.models) {
      const bool known = role == "critic";
      if (!known)
        problems.push_back({locations.at(section), section + ".plugin",
                            std::string(to_string(*kind)) + " plugin '" + name + "' asks for a '" + role +
                                "' model, which the host does not make (it makes: critic)"});
      else if (!plugins.count(role))
        problems.push_back({locations.at(section), section + ".plugin",
                            std::string(to_string(*kind)) + " plugin '" + name + "' needs a [" + role +
                                "] section: plugin = the model backend, path = the model directory"});
    }
  }
}

const TableArraySpec* find_table_array(const std::string& section, const std::string& key) {
  for (const TableArraySpec& spec : core_table_arrays(section))
    if (spec.key == key) return &spec;
  return nullptr;
}

// An entry's name becomes a file name (eval-<name>.jsonl) and a metric prefix.
bool valid_entry_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 && name.front() != '.' &&
         std::all_of(name.begin(), name.end(),
                     [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == '+'; });
}

// `[[eval.sets]]` (`qualified`): an array of tables, each entry checked like
// a section against `spec`; returns the entries with defaults filled in.
std::vector<std::map<std::string, ConfigValue>> check_table_array(const RawConfig::Impl& in,
                                                                  const std::string& qualified,
                                                                  const TableArraySpec& spec, const toml::node& node,
                                                                  const SourceLocation& where_key,
                                                                  std::vector<ConfigDiagnostic>& problems) {
  std::vector<std::map<std::string, ConfigValue>> entries;
  const toml::array* array = node.as_array();
  const bool of_tables =
      array && std::all_of(array->begin(), array->end(), [](const toml::node& n) { return n.is_table(); });
  if (!of_tables) {
    problems.push_back({where_key, qualified,
                        "expected an array of tables, one [[" + qualified + "]] per entry, got " +
                            (array ? "an array of values" : std::string("a ") + toml_type_name(node))});
    return entries;
  }
  // Values given by --set have no line of their own: the option locates them.
  const bool overridden = where_key.file.rfind("--set ", 0) == 0;
  auto at = [&](const toml::node& n) {
    return overridden || n.source().begin.line == 0 ? where_key : location_of(in.file, n.source());
  };
  const std::vector<std::string> names = key_names(spec.keys, false);
  std::set<std::string> seen;
  for (std::size_t i = 0; i < array->size(); ++i) {
    const toml::table& table = *array->get(i)->as_table();
    const std::string entry = qualified + "[" + std::to_string(i) + "]";
    std::map<std::string, ConfigValue> values;
    for (const ConfigKey& k : spec.keys) values[k.name] = k.default_value;
    for (const auto& [k, value_node] : table) {
      const std::string key(k.str());
      const auto key_spec =
          std::find_if(spec.keys.begin(), spec.keys.end(), [&](const ConfigKey& c) { return c.name == key; });
      if (key_spec == spec.keys.end()) {
        problems.push_back({at(value_node), entry + "." + key, unknown_key(key, names, "an entry takes")});
        continue;
      }
      std::string error;
      auto value = convert(value_node, *key_spec, error);
      if (!value) {
        problems.push_back({at(value_node), entry + "." + key, error});
        continue;
      }
      if (auto s = std::get_if<std::string>(&*value); s && key_spec->is_path) *s = resolve_path(in.file, *s);
      values[key] = std::move(*value);
    }
    for (const std::string& required : spec.required)
      if (std::get<std::string>(values.at(required)).empty())
        problems.push_back(
            {at(table), entry,
             "missing key '" + required + "' (every [[" + qualified + "]] entry needs " + join(spec.required) + ")"});
    const std::string& name = std::get<std::string>(values.at(spec.required.front()));
    if (!name.empty() && !valid_entry_name(name))
      problems.push_back({at(table), entry + "." + spec.required.front(),
                          "'" + name + "' is not a valid name: use letters, digits, '_', '-', '.', '+' (64 at most)"});
    else if (!name.empty() && std::find(spec.reserved.begin(), spec.reserved.end(), name) != spec.reserved.end())
      problems.push_back({at(table), entry + "." + spec.required.front(),
                          "'" + name + "' is reserved (" + join(spec.reserved) + "); choose another name"});
    else if (!name.empty() && !seen.insert(name).second)
      problems.push_back({at(table), entry + "." + spec.required.front(),
                          "a second entry named '" + name + "'; each name may appear once"});
    entries.push_back(std::move(values));
  }
  return entries;
}
}  // namespace

ResolvedConfig validate(const RawConfig& raw, const PluginRegistry& registry) {
  const RawConfig::Impl& in = raw.impl();
  std::vector<ConfigDiagnostic> problems;
  ResolvedConfig out;
  out.file_ = in.file;
  out.overrides_ = in.overrides;

  auto where = [&](const std::string& section, const std::string& key, const toml::node& node) -> SourceLocation {
    if (auto it = in.overridden.find({section, key}); it != in.overridden.end())
      return {"--set " + it->second.text, 0, 0};
    return location_of(in.file, node.source());
  };
  const std::vector<std::string>& sections = config_sections();
  std::map<std::string, SourceLocation> plugin_locations;  // section -> where its `plugin` is

  check_sections(in, problems);

  for (const std::string& section : sections) {
    const toml::table* table = in.table[section].as_table();
    const std::optional<PluginKind> kind = plugin_kind_of_section(section);
    const std::vector<ConfigKey>* keys = &core_keys(section);

    // [pretrain] also takes the model keys of the [model] backend (the new
    // model's shape). Always, so that to_toml() loads back as the same config.
    std::vector<ConfigKey> pretrain_section;
    if (section == "pretrain" && out.plugins_.count("model")) {
      pretrain_section =
          pretrain_keys(registry.find(PluginKind::ModelBackend, out.plugins_.at("model")), in.file, problems);
      keys = &pretrain_section;
    }

    if (kind) {
      if (!table) continue;  // plugin sections are optional; the stage that needs one says so
      const toml::node* plugin_node = table->get("plugin");
      const std::vector<std::string> available = registry.names(*kind);
      const std::string available_text = available.empty() ? "none installed" : "available: " + join(available);
      if (!plugin_node) {
        problems.push_back({location_of(in.file, table->source()), section,
                            "missing key 'plugin' (which " + std::string(to_string(*kind)) + " plugin to use; " +
                                available_text + ")"});
        continue;
      }
      const SourceLocation loc = where(section, "plugin", *plugin_node);
      auto name = plugin_node->value<std::string>();
      if (!name || !plugin_node->is_string()) {
        problems.push_back(
            {loc, section + ".plugin", std::string("expected a string, got a ") + toml_type_name(*plugin_node)});
        continue;
      }
      const PluginInfo* info = registry.find(*kind, *name);
      if (!info) {
        std::string message = "no " + std::string(to_string(*kind)) + " plugin named '" + *name + "'";
        if (auto n = nearest(*name, available); !n.empty()) message += "; did you mean '" + n + "'?";
        problems.push_back({loc, section + ".plugin", message + " (" + available_text + ")"});
        continue;
      }
      out.plugins_[section] = *name;
      plugin_locations[section] = out.locations_[section + ".plugin"] = loc;
      keys = &info->manifest.keys;
    }

    auto resolve_paths = [&](const ConfigKey& spec, ConfigValue& value) {
      if (!spec.is_path) return;
      if (auto s = std::get_if<std::string>(&value)) *s = resolve_path(in.file, *s);
      if (auto list = std::get_if<std::vector<std::string>>(&value))
        for (auto& s : *list) s = resolve_path(in.file, s);
    };
    auto& values = out.sections_[section];
    for (const ConfigKey& spec : *keys) resolve_paths(spec, values[spec.name] = spec.default_value);
    if (!table) continue;

    std::vector<std::string> names = key_names(*keys, kind.has_value());
    for (const TableArraySpec& array : core_table_arrays(section)) names.push_back(array.key);
    for (const auto& [k, node] : *table) {
      const std::string key(k.str());
      if (kind && key == "plugin") continue;
      const std::string qualified = section + "." + key;
      const auto spec = std::find_if(keys->begin(), keys->end(), [&](const ConfigKey& c) { return c.name == key; });
      if (const TableArraySpec* array = find_table_array(section, key); array && spec == keys->end()) {
        out.locations_[qualified] = where(section, key, node);
        out.arrays_[qualified] = check_table_array(in, qualified, *array, node, out.locations_[qualified], problems);
        continue;
      }
      if (spec == keys->end()) {
        problems.push_back({where(section, key, node), qualified, unknown_key(key, names, "[" + section + "] takes")});
        continue;
      }
      // A --set string value that TOML read as another type: keep the raw text.
      const toml::value<std::string> raw_text(
          in.overridden.count({section, key}) ? in.overridden.at({section, key}).value : std::string());
      const bool use_raw =
          spec->type() == ValueType::String && !node.is_string() && in.overridden.count({section, key});
      std::string error;
      auto value = convert(use_raw ? static_cast<const toml::node&>(raw_text) : node, *spec, error);
      if (!value) {
        problems.push_back({where(section, key, node), qualified, error});
        continue;
      }
      resolve_paths(*spec, *value);
      values[key] = std::move(*value);
      out.locations_[qualified] = where(section, key, node);
    }
  }
  check_declared_models(out.plugins_, registry, plugin_locations, problems);
  if (!problems.empty()) throw ConfigValidationError(std::move(problems));
  return out;
}

SourceLocation ResolvedConfig::where(const std::string& key) const {
  const auto it = locations_.find(key);
  return it != locations_.end() ? it->second : SourceLocation{file_.string(), 0, 0};
}

ConfigView ResolvedConfig::view(const std::string& section) const {
  auto it = sections_.find(section);
  return ConfigView(section, it == sections_.end() ? std::map<std::string, ConfigValue>{} : it->second);
}

std::vector<ConfigView> ResolvedConfig::table_array(const std::string& section, const std::string& key) const {
  std::vector<ConfigView> out;
  if (auto it = arrays_.find(section + "." + key); it != arrays_.end())
    for (const auto& entry : it->second) out.emplace_back(section + "." + key, entry);
  return out;
}

std::string ResolvedConfig::plugin(const std::string& section) const {
  auto it = plugins_.find(section);
  return it == plugins_.end() ? "" : it->second;
}

std::string ResolvedConfig::to_toml() const {
  std::ostringstream os;
  os << "# Resolved configuration: every key with its effective value (defaults filled in,\n"
     << "# paths made absolute). Source: " << file_.string() << "\n";
  for (const auto& o : overrides_) os << "# --set " << o << "\n";
  for (const std::string& section : config_sections()) {
    auto it = sections_.find(section);
    if (it == sections_.end()) continue;
    os << "\n[" << section << "]\n";
    if (auto p = plugins_.find(section); p != plugins_.end()) os << "plugin = " << format_value(p->second) << "\n";
    for (const auto& [key, value] : it->second) os << key << " = " << format_value(value) << "\n";
    for (const TableArraySpec& spec : core_table_arrays(section)) {
      auto entries = arrays_.find(section + "." + spec.key);
      if (entries == arrays_.end()) continue;
      for (const auto& entry : entries->second) {
        os << "\n[[" << section << "." << spec.key << "]]\n";
        for (const auto& [key, value] : entry) os << key << " = " << format_value(value) << "\n";
      }
    }
  }
  return os.str();
}

namespace {

// A resolved config's keys and their values as written: "section.key" ->
// "value". An array of tables counts its entries ("eval.sets[1].name").
// Comments, and [distributed] (how many ranks run it and how long they wait
// for each other change no result), are left out.
std::map<std::string, std::string> resolved_keys(const std::string& toml) {
  std::map<std::string, std::string> keys;
  std::map<std::string, int> entries;
  std::string section;
  bool skipping = false;
  std::istringstream in(toml);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("[[", 0) == 0) {
      const std::string name = line.substr(2, line.find("]]") - 2);
      section = name + "[" + std::to_string(entries[name]++) + "]";
      skipping = false;
    } else if (line[0] == '[') {
      section = line.substr(1, line.find(']') - 1);
      skipping = section == "distributed";
    } else if (!skipping) {
      const auto eq = line.find(" = ");
      if (eq == std::string::npos)
        keys[section + ": " + line] = "";  // not a key = value line: compared whole
      else
        keys[section + "." + line.substr(0, eq)] = line.substr(eq + 3);
    }
  }
  return keys;
}

}  // namespace

std::vector<std::string> resolved_config_differences(const std::string& before, const std::string& now) {
  const auto a = resolved_keys(before), b = resolved_keys(now);
  std::set<std::string> names;
  for (const auto& [k, v] : a) names.insert(k);
  for (const auto& [k, v] : b) names.insert(k);
  std::vector<std::string> out;
  for (const std::string& k : names) {
    const auto x = a.find(k), y = b.find(k);
    if (x != a.end() && y != b.end() && x->second == y->second) continue;
    out.push_back(k + " (was " + (x == a.end() ? std::string("not set") : x->second) + ", now " +
                  (y == b.end() ? std::string("not set") : y->second) + ")");
  }
  return out;
}

bool same_resolved_config(const std::string& a, const std::string& b) {
  return resolved_config_differences(a, b).empty();
}

PluginRegistry discover_plugins(const std::vector<fs::path>& config_plugin_path) {
  PluginRegistry registry;
  registry.add_directory(PluginRegistry::builtin_directory(), /*required=*/false);
  for (const auto& p : PluginRegistry::environment_path()) registry.add_path(p, /*required=*/false);
  for (const auto& p : config_plugin_path) registry.add_path(p, /*required=*/true);
  return registry;
}

}  // namespace genius::core

namespace genius::core {

std::optional<std::filesystem::path> find_model_recipe(const std::filesystem::path& config_file,
                                                       const std::filesystem::path& model_dir) {
  namespace fs = std::filesystem;
  // "model/" and "model" name the same directory.
  const auto canonical = [](const fs::path& p) -> std::optional<fs::path> {
    std::error_code ec;
    fs::path c = fs::weakly_canonical(fs::absolute(p, ec), ec);
    if (ec) return std::nullopt;
    if (!c.has_filename()) c = c.parent_path();
    return c;
  };
  const auto wanted = canonical(model_dir);
  if (!wanted) return std::nullopt;
  std::error_code ec;
  const fs::path dir = fs::absolute(config_file, ec).parent_path();
  std::vector<fs::path> candidates;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (it->path().extension() == ".toml") candidates.push_back(it->path());
  std::sort(candidates.begin(), candidates.end());
  for (const fs::path& file : candidates) {
    try {
      const toml::table table = toml::parse_file(file.string());
      const auto out = table["pretrain"]["out"].value<std::string>();
      if (out && canonical(dir / *out) == wanted) return file;
    } catch (const toml::parse_error&) {
      // Not ours to report: only a hint is being looked for.
    }
  }
  return std::nullopt;
}

ConfigView resolve_keys(const std::string& section, const std::vector<ConfigKey>& keys,
                        const std::vector<std::pair<std::string, std::string>>& given, const std::string& source) {
  std::map<std::string, ConfigValue> values;
  for (const ConfigKey& k : keys) values[k.name] = k.default_value;
  std::vector<ConfigDiagnostic> problems;
  const std::vector<std::string> names = key_names(keys, false);
  for (const auto& entry : given) {
    const std::string& key = entry.first;  // not a structured binding: lambdas capture it (C++17)
    const std::string& text = entry.second;
    const SourceLocation where{source + " " + key + "=" + text, 0, 0};
    const auto spec = std::find_if(keys.begin(), keys.end(), [&](const ConfigKey& c) { return c.name == key; });
    if (spec == keys.end()) {
      problems.push_back({where, section + "." + key, unknown_key(key, names, "there are")});
      continue;
    }
    // Typed like a --set value; a string key keeps the text as written.
    const toml::table parsed = spec->type() == ValueType::String ? toml::table{{"v", text}} : value_table(text);
    std::string error;
    auto value = convert(*parsed.get("v"), *spec, error);
    if (!value) {
      problems.push_back({where, section + "." + key, error});
      continue;
    }
    values[key] = std::move(*value);
  }
  if (!problems.empty()) throw ConfigValidationError(std::move(problems));
  return ConfigView(section, std::move(values));
}

}  // namespace genius::core
