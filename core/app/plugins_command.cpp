// genius plugins [--json] [--config FILE]
#include <cstdio>
#include <iostream>

#include <nlohmann/json.hpp>

#include "cli.hpp"
#include "config/config.hpp"
#include "config/suggest.hpp"
#include "io/errors.hpp"
#include "plugins/plugin_registry.hpp"

namespace genius::cli {
namespace {

nlohmann::json to_json(const ConfigValue& v) {
  return std::visit([](const auto& x) { return nlohmann::json(x); }, v);
}

nlohmann::json to_json(const std::vector<ConfigKey>& list) {
  nlohmann::json keys = nlohmann::json::array();
  for (const ConfigKey& k : list) {
    nlohmann::json key = {
        {"name", k.name}, {"type", to_string(k.type())}, {"default", to_json(k.default_value)}, {"doc", k.doc}};
    if (k.bounds.min) key["min"] = *k.bounds.min, key["min_inclusive"] = k.bounds.min_inclusive;
    if (k.bounds.max) key["max"] = *k.bounds.max, key["max_inclusive"] = k.bounds.max_inclusive;
    if (!k.choices.empty()) key["choices"] = k.choices;
    if (k.is_path) key["path"] = true;
    if (!k.flag.empty()) key["flag"] = k.flag;
    keys.push_back(std::move(key));
  }
  return keys;
}

nlohmann::json to_json(const core::PluginInfo& info) {
  const PluginManifest& m = info.manifest;
  nlohmann::json j = {{"kind", to_string(m.kind)},  {"name", m.name},
                      {"version", m.version},       {"description", m.description},
                      {"file", info.file.string()}, {"section", config_section(m.kind)},
                      {"keys", to_json(m.keys)}};
  if (!m.model_keys.empty()) j["model_keys"] = to_json(m.model_keys);
  if (!m.models.empty()) j["models"] = m.models;
  return j;
}

std::string describe_bounds(const Bounds& b) {
  auto num = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return std::string(buf);
  };
  if (b.min && b.max)
    return std::string(b.min_inclusive ? "[" : "(") + num(*b.min) + ", " + num(*b.max) + (b.max_inclusive ? "]" : ")");
  if (b.min) return (b.min_inclusive ? ">= " : "> ") + num(*b.min);
  if (b.max) return (b.max_inclusive ? "<= " : "< ") + num(*b.max);
  return "";
}

void print_text(const core::PluginInfo& info) {
  const PluginManifest& m = info.manifest;
  std::cout << to_string(m.kind) << " " << m.name << " " << m.version << "  [" << config_section(m.kind)
            << "] plugin = \"" << m.name << "\"\n  " << m.description << "\n  file: " << info.file.string() << "\n";
  for (const std::string& role : m.models)
    std::cout << "  uses the [" << role << "] model (a section with the backend and its path)\n";
  auto print_keys = [](const std::vector<ConfigKey>& keys) {
    for (const ConfigKey& k : keys) {
      std::string constraint = describe_bounds(k.bounds);
      if (!k.choices.empty()) constraint = "one of: " + core::join(k.choices);
      std::printf("    %-18s %-6s = %-10s %s%s%s\n", k.name.c_str(), to_string(k.type()),
                  format_value(k.default_value).c_str(), k.doc.c_str(), constraint.empty() ? "" : "; ",
                  constraint.c_str());
    }
  };
  print_keys(m.keys);
  if (m.model_keys.empty()) return;
  std::cout << "  model keys (a new model: `genius init-model` flags, [pretrain] keys):\n";
  print_keys(m.model_keys);
}

}  // namespace

int plugins_command(const Args& args) {
  po::options_description options("Options");
  options.add_options()("json", "print a JSON array (kind, name, version, description, file, section, keys)")(
      "config", po::value<std::string>()->value_name("FILE"), "also search the [run] plugin_path of this config");
  const Parsed vm = parse("plugins", "[--json] [--config FILE]", args, options);
  if (!vm) return vm.exit_code;

  std::vector<std::filesystem::path> extra;
  if (vm->count("config")) {
    try {
      extra = core::RawConfig::load((*vm)["config"].as<std::string>()).plugin_path();
    } catch (const core::ConfigValidationError& e) {
      std::cerr << core::describe(e) << "\n";
      return core::kExitUsageError;
    }
  }
  const core::PluginRegistry registry = core::discover_plugins(extra);
  if (vm->count("json")) {
    nlohmann::json out = nlohmann::json::array();
    for (const core::PluginInfo* info : registry.plugins()) out.push_back(to_json(*info));
    std::cout << out.dump(2) << "\n";
  } else {
    if (registry.plugins().empty()) std::cout << "no plugins found\n";
    for (const core::PluginInfo* info : registry.plugins()) print_text(*info), std::cout << "\n";
  }
  for (const auto& error : registry.errors()) std::cerr << "error: " << error << "\n";
  return registry.errors().empty() ? core::kExitOk : core::kExitRunFailed;
}

}  // namespace genius::cli
