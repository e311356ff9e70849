// The checks of a run config that span keys or sections, made before
// anything runs: `genius config check` and every run make them, so a config
// the check passes is not refused later for one of these reasons.
//
//   preflight(config);  // throws genius::ConfigError naming the key
#pragma once

namespace genius::core {

class ResolvedConfig;

/// Throws genius::ConfigError naming the key for a config a run would refuse
/// (benchmarks sharing a name, shots without exemplars, an invalid
/// answer_regex, training options that do not fit together, ...).
void preflight(const ResolvedConfig& config);

}  // namespace genius::core
