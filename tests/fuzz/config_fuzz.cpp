// Run configs: any bytes as TOML, validated against the core schema (no
// plugins installed). Every problem is a ConfigValidationError; a valid
// config's resolved TOML must load back as the same config.
#include "config/config.hpp"
#include "fuzz_input.hpp"
#include "plugins/plugin_registry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace genius::core;
  static const PluginRegistry registry;
  try {
    const RawConfig raw = RawConfig::parse(genius::fuzz::as_text(data, size), "/fuzz/run.toml");
    const ResolvedConfig config = validate(raw, registry);
    const std::string text = config.to_toml();
    const ResolvedConfig back = validate(RawConfig::parse(text, "/fuzz/config.resolved.toml"), registry);
    if (!same_resolved_config(back.to_toml(), text)) __builtin_trap();
  } catch (const ConfigValidationError&) {
  }
  return 0;
}
