#include "sweep/sweep.hpp"

#include "run/run_directory.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <toml++/toml.h>

#include <genius/config.hpp>
#include <genius/helpers/atomic_file.hpp>

#include "config/config_schema.hpp"
#include "config/suggest.hpp"
#include "run/preflight.hpp"

namespace genius::core {

namespace fs = std::filesystem;
using nlohmann::json;

bool SweepValue::operator==(const SweepValue& other) const {
  if (number && other.number) return *number == *other.number;
  return toml == other.toml;
}

std::vector<std::string> SweepSpec::varied_keys() const {
  std::vector<std::string> keys;
  for (const auto& grid : grids)
    for (const SweepDimension& d : grid)
      for (const std::string& k : d.keys)
        if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
  return keys;
}

// ------------------------------------------------------------------ parse

namespace {

SourceLocation at(const fs::path& file, const toml::node& node) {
  return {file.string(), static_cast<long>(node.source().begin.line), static_cast<long>(node.source().begin.column)};
}

// A scalar or an array of scalars as a SweepValue; nullopt for tables.
std::optional<SweepValue> to_value(const toml::node& node) {
  SweepValue v;
  if (auto s = node.as_string()) {
    v.toml = detail::quote(s->get());
    v.text = s->get();
  } else if (auto i = node.as_integer()) {
    v.toml = v.text = std::to_string(i->get());
    v.number = static_cast<double>(i->get());
  } else if (auto f = node.as_floating_point()) {
    v.toml = detail::format_double(f->get());
    v.text = v.toml;
    if (v.text.size() > 2 && v.text.compare(v.text.size() - 2, 2, ".0") == 0) v.text.resize(v.text.size() - 2);
    v.number = f->get();
  } else if (auto b = node.as_boolean()) {
    v.toml = v.text = b->get() ? "true" : "false";
  } else if (auto arr = node.as_array()) {
    v.toml = "[";
    for (std::size_t k = 0; k < arr->size(); ++k) {
      auto item = to_value(*arr->get(k));
      if (!item || arr->get(k)->is_array()) return std::nullopt;
      v.toml += (k ? ", " : "") + item->toml;
    }
    v.toml += "]";
    v.text = v.toml;
  } else {
    return std::nullopt;
  }
  return v;
}

// Collects problems; every one names the sweep file.
struct Problems {
  fs::path file;
  std::vector<ConfigDiagnostic> list;
  void add(const toml::node& node, const std::string& key, const std::string& message) {
    list.push_back({at(file, node), key, message});
  }
  void add(const SourceLocation& where, const std::string& key, const std::string& message) {
    list.push_back({where, key, message});
  }
};

// Only `allowed` keys in `table`; the others reported with a suggestion.
void check_keys(const toml::table& table, const std::string& what, const std::vector<std::string>& allowed,
                Problems& problems) {
  for (const auto& [k, node] : table) {
    const std::string key(k.str());
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string message = "unknown key '" + key + "' in " + what;
    if (auto n = nearest(key, allowed); !n.empty())
      message += "; did you mean '" + n + "'?";
    else
      message += "; valid keys: " + join(allowed);
    problems.add(node, key, message);
  }
}

// "section.key" with both parts non-empty; "" when fine, else why not.
std::string key_shape_error(const std::string& key) {
  const auto dot = key.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == key.size() || key.find('.', dot + 1) != std::string::npos)
    return "expected a config key 'section.key' (for example loss.plugin), got '" + key + "'";
  if (key == "run.name") return "run.name is set by the sweep (each cell is named after its values)";
  return "";
}

// A table of settings: `"loss.plugin" = "sft"`, `loss.plugin = "sft"` (a
// dotted key) or `[x.loss] plugin = "sft"` all mean loss.plugin = "sft".
std::vector<SweepSetting> settings_of(const toml::table& table, const std::string& what, Problems& problems) {
  std::vector<SweepSetting> out;
  for (const auto& [k, node] : table) {
    const std::string name(k.str());
    if (auto sub = node.as_table(); sub && name.find('.') == std::string::npos) {
      for (const auto& [k2, node2] : *sub) {
        if (node2.is_table()) {
          problems.add(node2, name + "." + std::string(k2.str()), "too deep: " + what + " takes section.key = value");
          continue;
        }
        auto v = to_value(node2);
        if (!v)
          problems.add(node2, name + "." + std::string(k2.str()), "expected a value or an array of values");
        else
          out.push_back({name + "." + std::string(k2.str()), *v, at(problems.file, node2)});
      }
      continue;
    }
    if (auto bad = key_shape_error(name); !bad.empty()) {
      problems.add(node, name, bad + " in " + what);
      continue;
    }
    auto v = to_value(node);
    if (!v)
      problems.add(node, name, "expected a value or an array of values");
    else
      out.push_back({name, *v, at(problems.file, node)});
  }
  return out;
}

// Each table of an array of tables [[PREFIX.NAME]] in `parent`, with a name
// for messages ("[[sweep.axis]] #2").
template <class F>
void each_table(const toml::table& parent, const std::string& prefix, const std::string& name, Problems& problems,
                F f) {
  const std::string path = prefix + "." + name;
  const toml::node* node = parent.get(name);
  if (!node) return;
  const toml::array* arr = node->as_array();
  if (!arr) {
    problems.add(*node, path, "expected an array of tables ([[" + path + "]])");
    return;
  }
  for (std::size_t i = 0; i < arr->size(); ++i) {
    const toml::table* t = arr->get(i)->as_table();
    if (!t)
      problems.add(*arr->get(i), path, "expected a table ([[" + path + "]])");
    else
      f(*t, "[[" + path + "]] #" + std::to_string(i + 1));
  }
}

// The axes and zips of one grid (`table` is [sweep] or a [[sweep.grid]]),
// in file order, axes and zips interleaved.
std::vector<SweepDimension> parse_dimensions(const toml::table& table, const std::string& prefix,
                                             const std::vector<std::int64_t>& seeds, Problems& problems) {
  std::vector<std::pair<long, SweepDimension>> dims;
  std::set<std::string> seen_keys;
  auto add_key = [&](const toml::node& where, const std::string& key, SweepDimension& d) {
    if (auto bad = key_shape_error(key); !bad.empty()) return problems.add(where, key, bad), false;
    if (key == "run.seed" && !seeds.empty())
      return problems.add(where, key, "run.seed is varied by [sweep] seeds already"), false;
    if (!seen_keys.insert(key).second)
      return problems.add(where, key, "is varied twice; each key may be in one axis or zip"), false;
    d.keys.push_back(key);
    return true;
  };
  each_table(table, prefix, "axis", problems, [&](const toml::table& t, const std::string& what) {
    check_keys(t, what, {"key", "values"}, problems);
    SweepDimension d;
    const toml::node* key = t.get("key");
    const toml::array* values = t["values"].as_array();
    if (!key || !key->is_string()) return problems.add(t, prefix + ".axis", what + ": needs key = \"section.key\"");
    const std::string k = key->as_string()->get();
    if (!values) return problems.add(t, k, what + ": needs values = [...]");
    if (values->empty()) return problems.add(*t.get("values"), k, "values is empty; give at least one value");
    if (!add_key(*key, k, d)) return;
    for (const auto& v : *values) {
      auto value = to_value(v);
      if (!value)
        problems.add(v, k, "expected a value or an array of values, got a table");
      else
        d.rows.push_back({{k, *value, at(problems.file, v)}});
    }
    dims.emplace_back(static_cast<long>(t.source().begin.line), std::move(d));
  });
  each_table(table, prefix, "zip", problems, [&](const toml::table& t, const std::string& what) {
    check_keys(t, what, {"keys", "values"}, problems);
    SweepDimension d;
    const toml::array* keys = t["keys"].as_array();
    const toml::array* rows = t["values"].as_array();
    if (!keys || keys->empty()) return problems.add(t, prefix + ".zip", what + ": needs keys = [\"section.key\", ...]");
    for (const auto& k : *keys) {
      if (!k.is_string()) return problems.add(k, prefix + ".zip", what + ": keys must be strings");
      if (!add_key(k, k.as_string()->get(), d)) return;
    }
    const std::string keys_text = join(d.keys);
    if (!rows) return problems.add(t, keys_text, what + ": needs values = [[...], ...], one array per row");
    if (rows->empty()) return problems.add(*t.get("values"), keys_text, "values is empty; give at least one row");
    for (const auto& row : *rows) {
      const toml::array* r = row.as_array();
      if (!r || r->size() != d.keys.size()) {
        problems.add(row, keys_text,
                     "a row has " + (r ? std::to_string(r->size()) : std::string("no")) + " values for " +
                         std::to_string(d.keys.size()) + " keys; every row needs one value per key, in order");
        continue;
      }
      std::vector<SweepSetting> settings;
      for (std::size_t i = 0; i < r->size(); ++i) {
        auto value = to_value(*r->get(i));
        if (!value)
          problems.add(*r->get(i), d.keys[i], "expected a value or an array of values, got a table");
        else
          settings.push_back({d.keys[i], *value, at(problems.file, *r->get(i))});
      }
      if (settings.size() == d.keys.size()) d.rows.push_back(std::move(settings));
    }
    dims.emplace_back(static_cast<long>(t.source().begin.line), std::move(d));
  });
  std::stable_sort(dims.begin(), dims.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<SweepDimension> out;
  out.reserve(dims.size());
  for (auto& [line, d] : dims) out.push_back(std::move(d));
  return out;
}

}  // namespace

SweepSpec SweepSpec::load(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec))
    throw ConfigValidationError(
        {{{file.string(), 0, 0}, "", fs::exists(file) ? "not a regular file" : "no such file"}});
  return parse(read_file(file), file);
}

namespace {

// [sweep] seeds: distinct ints >= 0, in the order given.
std::vector<std::int64_t> parse_seeds(const toml::node& seeds, Problems& problems) {
  std::vector<std::int64_t> out;
  const toml::array* arr = seeds.as_array();
  if (!arr || arr->empty()) {
    problems.add(seeds, "sweep.seeds", "expected a non-empty array of ints (seeds = [1, 2])");
    return out;
  }
  for (const auto& s : *arr) {
    if (!s.is_integer() || s.as_integer()->get() < 0)
      problems.add(s, "sweep.seeds", "expected an int >= 0");
    else if (std::find(out.begin(), out.end(), s.as_integer()->get()) != out.end())
      problems.add(s, "sweep.seeds", "seed " + std::to_string(s.as_integer()->get()) + " is given twice");
    else
      out.push_back(s.as_integer()->get());
  }
  return out;
}

}  // namespace

SweepSpec SweepSpec::parse(const std::string& text, const fs::path& file) {
  toml::table root;
  try {
    root = toml::parse(text, file.string());
  } catch (const toml::parse_error& e) {
    throw ConfigValidationError(
        {{{file.string(), static_cast<long>(e.source().begin.line), static_cast<long>(e.source().begin.column)},
          "",
          "invalid TOML: " + std::string(e.description())}});
  }
  Problems problems{file, {}};
  SweepSpec spec;
  spec.file = file;
  spec.name = file.stem().string();
  const fs::path dir = fs::absolute(file).parent_path();
  spec.out_dir = "runs/sweeps";
  check_keys(root, "a sweep file (sections: [sweep], [set])", {"sweep", "set"}, problems);

  const toml::table* sweep = root["sweep"].as_table();
  if (!sweep) {
    problems.add({file.string(), 0, 0}, "sweep", "missing the [sweep] section (base = \"run.toml\" and the axes)");
    throw ConfigValidationError(std::move(problems.list));
  }
  check_keys(*sweep, "[sweep]", {"name", "base", "seeds", "out_dir", "axis", "zip", "grid", "exclude", "when"},
             problems);

  auto string_key = [&](const char* key) -> std::optional<std::string> {
    const toml::node* node = sweep->get(key);
    if (!node) return std::nullopt;
    if (!node->is_string()) {
      problems.add(*node, std::string("sweep.") + key, "expected a string");
      return std::nullopt;
    }
    return node->as_string()->get();
  };
  if (auto name = string_key("name")) {
    if (name->empty() || sanitize_name(*name) != *name)
      problems.add(*sweep->get("name"), "sweep.name",
                   "'" + *name + "' is not a directory name (letters, digits, . _ + - = , only)");
    spec.name = *name;
  }
  if (auto out = string_key("out_dir")) spec.out_dir = out->empty() ? fs::path(".") : (dir / *out).lexically_normal();
  if (auto base = string_key("base")) {
    spec.base = (dir / *base).lexically_normal();
    spec.base_where = at(file, *sweep->get("base"));
    if (base->empty()) problems.add(spec.base_where, "sweep.base", "is empty; name the base run config");
  } else if (!sweep->get("base")) {
    problems.add(*sweep, "sweep.base", "missing: the run config every cell starts from (a path relative to this file)");
  }

  if (const toml::node* seeds = sweep->get("seeds")) {
    spec.seeds_where = at(file, *seeds);
    spec.seeds = parse_seeds(*seeds, problems);
  }

  // The axes and zips of [sweep], then each [[sweep.grid]]'s.
  spec.grids.push_back(parse_dimensions(*sweep, "sweep", spec.seeds, problems));
  if (spec.grids.back().empty()) spec.grids.pop_back();
  each_table(*sweep, "sweep", "grid", problems, [&](const toml::table& t, const std::string& what) {
    check_keys(t, what, {"axis", "zip"}, problems);
    spec.grids.push_back(parse_dimensions(t, "sweep.grid", spec.seeds, problems));
    if (spec.grids.back().empty())
      problems.add(t, "sweep.grid", what + " has no [[sweep.grid.axis]] or [[sweep.grid.zip]]");
  });
  if (spec.grids.empty()) spec.grids.emplace_back();  // nothing varies: one cell

  // Rules may only name what varies (a rule on a fixed key is a typo).
  std::vector<std::string> varied = spec.varied_keys();
  if (!spec.seeds.empty()) varied.push_back("run.seed");
  auto check_match = [&](const std::vector<SweepSetting>& match, const std::string& what) {
    for (const SweepSetting& s : match)
      if (std::find(varied.begin(), varied.end(), s.key) == varied.end()) {
        std::string message = what + " names '" + s.key + "', which no axis varies";
        if (auto n = nearest(s.key, varied); !n.empty())
          message += "; did you mean '" + n + "'?";
        else
          message += varied.empty() ? "" : " (varied: " + join(varied) + ")";
        problems.add(s.where, s.key, message);
      }
  };
  each_table(*sweep, "sweep", "exclude", problems, [&](const toml::table& t, const std::string& what) {
    SweepRule rule{settings_of(t, what, problems), {}, at(file, t)};
    if (rule.match.empty()) problems.add(t, "sweep.exclude", what + " is empty (it would drop every cell)");
    check_match(rule.match, what);
    spec.excludes.push_back(std::move(rule));
  });
  each_table(*sweep, "sweep", "when", problems, [&](const toml::table& t, const std::string& what) {
    check_keys(t, what, {"match", "set"}, problems);
    const toml::table* match = t["match"].as_table();
    const toml::table* set = t["set"].as_table();
    if (!match || !set) return problems.add(t, "sweep.when", what + ": needs match = { ... } and set = { ... }");
    SweepRule rule{settings_of(*match, what + " match", problems), settings_of(*set, what + " set", problems),
                   at(file, t)};
    if (rule.match.empty()) problems.add(t, "sweep.when", what + ": match is empty (use [set] for every cell)");
    check_match(rule.match, what);
    spec.whens.push_back(std::move(rule));
  });

  if (const toml::node* set = root.get("set")) {
    if (!set->is_table())
      problems.add(*set, "set", "expected a table ([set] with section.key = value)");
    else
      spec.fixed = settings_of(*set->as_table(), "[set]", problems);
  }
  if (!problems.list.empty()) throw ConfigValidationError(std::move(problems.list));
  return spec;
}

bool is_sweep_file(const fs::path& file) {
  try {
    const toml::table t = toml::parse_file(file.string());
    return t["sweep"].is_table();
  } catch (const std::exception&) {
    return false;
  }
}

// ----------------------------------------------------------------- expand

std::string sanitize_name(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '_' || c == '+' || c == '-' || c == '=' || c == ',';
    out += ok ? c : '_';
  }
  if (out == "." || out == "..") out = "_";
  return out;
}

namespace {

bool matches(const SweepRule& rule, const SweepCell& cell) {
  for (const SweepSetting& m : rule.match) {
    bool hit = false;
    if (m.key == "run.seed") {
      hit = cell.seed && m.value.number && *m.value.number == static_cast<double>(*cell.seed);
    } else {
      for (const SweepSetting& v : cell.values) hit = hit || (v.key == m.key && v.value == m.value);
    }
    if (!hit) return false;
  }
  return true;
}

std::string rule_text(const SweepRule& rule) {
  std::vector<std::string> parts;
  for (const SweepSetting& m : rule.match) parts.push_back(m.key + " = " + m.value.text);
  return join(parts);
}

// Long names are cut and made unique by a hash of the whole name.
std::string bounded_name(const std::string& name) {
  constexpr std::size_t kMax = 150;
  if (name.size() <= kMax) return name;
  std::uint64_t h = 1469598103934665603ULL;
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ULL;
  char buf[24];
  std::snprintf(buf, sizeof buf, "-%016llx", static_cast<unsigned long long>(h));
  return name.substr(0, kMax - 17) + buf;
}

}  // namespace

std::vector<SweepCell> expand_grid(const SweepSpec& spec) {
  std::vector<std::vector<SweepSetting>> points;
  for (const auto& grid : spec.grids) {
    std::vector<std::vector<SweepSetting>> product = {{}};
    for (const SweepDimension& d : grid) {
      std::vector<std::vector<SweepSetting>> next;
      for (const auto& p : product)
        for (const auto& row : d.rows) {
          next.push_back(p);
          next.back().insert(next.back().end(), row.begin(), row.end());
        }
      product = std::move(next);
    }
    points.insert(points.end(), product.begin(), product.end());
  }
  std::vector<std::optional<std::int64_t>> seeds;
  for (std::int64_t s : spec.seeds) seeds.emplace_back(s);
  if (seeds.empty()) seeds.emplace_back(std::nullopt);

  std::vector<ConfigDiagnostic> problems;
  std::vector<int> exclude_hits(spec.excludes.size(), 0), when_hits(spec.whens.size(), 0);
  std::vector<SweepCell> cells;
  std::map<std::string, int> names;
  for (const auto& point : points)
    for (const auto& seed : seeds) {
      SweepCell cell;
      cell.values = point;
      cell.seed = seed;
      bool excluded = false;
      for (std::size_t r = 0; r < spec.excludes.size(); ++r)
        if (matches(spec.excludes[r], cell)) excluded = true, ++exclude_hits[r];
      if (excluded) continue;
      for (const SweepSetting& s : spec.fixed) cell.overrides.push_back(s.override_text());
      for (std::size_t r = 0; r < spec.whens.size(); ++r)
        if (matches(spec.whens[r], cell)) {
          ++when_hits[r];
          for (const SweepSetting& s : spec.whens[r].set) cell.overrides.push_back(s.override_text());
        }
      std::vector<std::string> parts;
      for (const SweepSetting& s : point) {
        cell.overrides.push_back(s.override_text());
        parts.push_back(s.key + "=" + s.value.text);
      }
      cell.group = point.empty() ? "base" : bounded_name(sanitize_name(join(parts, ",")));
      if (seed) {
        cell.overrides.push_back("run.seed=" + std::to_string(*seed));
        parts.push_back("seed=" + std::to_string(*seed));
      }
      cell.name = parts.empty() ? "base" : bounded_name(sanitize_name(join(parts, ",")));
      // Values that sanitise alike ("a/b" and "a_b") get a numbered suffix.
      if (const int n = ++names[cell.name]; n > 1) cell.name += "-" + std::to_string(n);
      cell.overrides.push_back("run.name=" + detail::quote(cell.name));
      cells.push_back(std::move(cell));
    }
  for (std::size_t r = 0; r < spec.excludes.size(); ++r)
    if (!exclude_hits[r])
      problems.push_back({spec.excludes[r].where, "sweep.exclude",
                          "the rule (" + rule_text(spec.excludes[r]) + ") matches no cell; check its values"});
  for (std::size_t r = 0; r < spec.whens.size(); ++r)
    if (!when_hits[r])
      problems.push_back({spec.whens[r].where, "sweep.when",
                          "the rule (" + rule_text(spec.whens[r]) + ") matches no cell; check its values"});
  if (cells.empty() && problems.empty())
    problems.push_back({{spec.file.string(), 0, 0}, "sweep.exclude", "every cell is excluded; nothing to run"});
  if (!problems.empty()) throw ConfigValidationError(std::move(problems));
  return cells;
}

// ------------------------------------------------------------------- plan

std::string exploration_key(const ResolvedConfig& config) {
  static const std::set<std::string> training_only = {"loss", "train"};
  static const std::set<std::string> run_keys_without_effect = {"name", "out_dir", "log_level", "iterations"};
  std::istringstream in(config.to_toml());
  std::string key, section;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (line[0] == '[') {
      section = line.substr(1, line.find(']') - 1);
    } else if (training_only.count(section) ||
               (section == "run" && run_keys_without_effect.count(line.substr(0, line.find(' '))))) {
      continue;
    }
    key += line + "\n";
  }
  return key;
}

PluginRegistry discover_sweep_plugins(const SweepSpec& spec) {
  try {
    return discover_plugins(RawConfig::load(spec.base).plugin_path());
  } catch (const ConfigValidationError&) {
    return discover_plugins({});  // the base's own problems are reported by plan_sweep
  }
}

SweepPlan plan_sweep(const SweepSpec& spec, const PluginRegistry& registry) {
  const std::vector<SweepCell> cells = expand_grid(spec);
  std::error_code ec;
  if (!fs::is_regular_file(spec.base, ec))
    throw ConfigValidationError({{spec.base_where, "sweep.base",
                                  "the base config '" + spec.base.string() + "' " +
                                      (fs::exists(spec.base) ? "is not a regular file" : "does not exist")}});
  const std::string text = read_file(spec.base);
  const RawConfig base = RawConfig::parse(text, spec.base);
  if (toml::parse(text, spec.base.string()).contains("sweep"))
    throw ConfigValidationError({{spec.base_where, "sweep.base",
                                  "'" + spec.base.string() +
                                      "' is a sweep file (it has a [sweep] section), not a run config; base names "
                                      "the run config every cell starts from"}});

  // Where each --set option of a cell comes from in the sweep file.
  std::map<std::string, SourceLocation> origin;
  for (const SweepSetting& s : spec.fixed) origin.emplace(s.override_text(), s.where);
  for (const SweepRule& r : spec.whens)
    for (const SweepSetting& s : r.set) origin.emplace(s.override_text(), s.where);
  for (const auto& grid : spec.grids)
    for (const SweepDimension& d : grid)
      for (const auto& row : d.rows)
        for (const SweepSetting& s : row) origin.emplace(s.override_text(), s.where);

  SweepPlan plan{spec, {}};
  std::vector<ConfigDiagnostic> problems;
  std::set<std::string> reported;
  auto report = [&](ConfigDiagnostic d, const std::string& cell) {
    const std::string prefix = "--set ";
    if (d.where.file.rfind(prefix, 0) == 0) {
      const std::string option = d.where.file.substr(prefix.size());
      if (auto it = origin.find(option); it != origin.end())
        d.where = it->second;
      else if (option.rfind("run.seed=", 0) == 0)
        d.where = spec.seeds_where;
      else
        d.where = {spec.file.string(), 0, 0};
      d.message += " (cell " + cell + ")";
    }
    if (reported.insert(d.where.str() + d.key + d.message.substr(0, d.message.rfind(" (cell "))).second)
      problems.push_back(std::move(d));
  };
  for (const SweepCell& cell : cells) {
    try {
      RawConfig raw = RawConfig::parse(text, spec.base, cell.overrides);
      for (const std::string& section : config_sections())
        if (plugin_kind_of_section(section) && !base.plugin_name(section).empty() &&
            raw.plugin_name(section) != base.plugin_name(section))
          raw.drop_file_keys(section);
      ResolvedConfig config = validate(raw, registry);
      for (PluginKind kind :
           {PluginKind::ModelBackend, PluginKind::Sampler, PluginKind::ValueEstimator, PluginKind::Loss})
        if (config.plugin(config_section(kind)).empty())
          report({{spec.base.string(), 0, 0},
                  config_section(kind),
                  "a run needs a [" + std::string(config_section(kind)) + "] section with plugin = \"...\" (" +
                      (registry.names(kind).empty() ? std::string("none installed")
                                                    : "available: " + join(registry.names(kind))) +
                      ")"},
                 cell.name);
      try {
        preflight(config, kTrainInputs | kEvalInputs | kAuditInputs);
      } catch (const ConfigError& e) {
        report({{spec.base.string(), 0, 0}, "", e.what()}, cell.name);
      }
      const std::string key = exploration_key(config);
      plan.cells.push_back({cell, std::move(config), key, -1});
    } catch (const ConfigValidationError& e) {
      for (const ConfigDiagnostic& d : e.diagnostics()) report(d, cell.name);
    }
  }
  if (!problems.empty()) throw ConfigValidationError(std::move(problems));
  for (std::size_t i = 0; i < plan.cells.size(); ++i)
    for (std::size_t j = 0; j < i; ++j)
      if (plan.cells[j].explorer < 0 && plan.cells[j].share_key == plan.cells[i].share_key) {
        plan.cells[i].explorer = static_cast<int>(j);
        break;
      }
  return plan;
}

// ---------------------------------------------------------------- sharing
// The run directory owns the layout (run/run_directory.hpp); these keep the
// sweep's vocabulary.

json read_run_state(const fs::path& run_dir) {
  return json{{"stages", RunDirectory::at(run_dir).stages()}};
}

bool has_exploration(const fs::path& run_dir) {
  return RunDirectory::at(run_dir).has_exploration();
}

bool share_exploration(const fs::path& donor_dir, const std::string& donor_name, const fs::path& cell_dir) {
  RunDirectory cell = RunDirectory::at(cell_dir);
  return cell.share_exploration(RunDirectory::at(donor_dir), donor_name);
}

}  // namespace genius::core
