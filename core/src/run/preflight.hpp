// The checks of a run config that span keys or sections, made before
// anything runs: `genius config check` and every run make them, so a config
// the check passes is not refused later for one of these reasons.
//
//   preflight(config);  // throws genius::ConfigError naming the key
#pragma once

namespace genius::core {

class ResolvedConfig;

/// The input files a command reads, by what they are for (a bit set): `run`
/// and `config check` need them all, a stage command only its own.
enum InputFiles : unsigned {
  kTrainInputs = 1,     ///< [data] train
  kEvalInputs = 2,      ///< [data] eval, extra_eval, [eval] shots_file, [[eval.sets]] files
  kAuditInputs = 4,     ///< [audit] file
  kPretrainInputs = 8,  ///< [pretrain] init_from, slips
  kAllInputs = 15,
};

/// Throws genius::ConfigError naming the key for a config a run would refuse
/// (benchmarks sharing a name, shots without exemplars, an invalid
/// answer_regex, training options that do not fit together, ...) and for an
/// input file among `inputs` that does not exist or holds a record the run
/// would refuse (each is read as the run reads it; the error names file:line).
void preflight(const ResolvedConfig& config, unsigned inputs = kAllInputs);

}  // namespace genius::core
