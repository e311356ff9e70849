// The benchmarks of an evaluation: [data] eval (the main set, whose metrics
// are unprefixed), each [data] extra_eval file and each [[eval.sets]] entry
// (whose metrics are "<name>/<metric>"), and the per-benchmark table of a
// run's evaluations with its average, like the paper's Table 1.
//
//   for (const EvalSet& set : eval_sets(config, seed))
//     evaluate(backend, set.options, dir.eval(i, set.name));
//   summary["benchmarks"] = benchmark_table(eval_sets(config, seed), eval_records);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/evaluator.hpp"

namespace genius::core {

class ResolvedConfig;

/// One benchmark of an evaluation.
struct EvalSet {
  std::string name;     ///< metric prefix and file stem (eval-<name>.jsonl); "" for [data] eval
  std::string label;    ///< its column in the benchmark table ([data] eval: its file's stem)
  EvalOptions options;  ///< the [eval] settings with the set's file, checker, shots and limit
};

/// Every benchmark of `config` in order: [data] eval (when set), [data]
/// extra_eval, [[eval.sets]]. Generation settings (greedy, samples,
/// temperature, max_new_tokens, stop) are [eval]'s for all of them. Throws
/// genius::ConfigError naming the key when two sets would share a name or
/// extra_eval is given without [data] eval.
std::vector<EvalSet> eval_sets(const ResolvedConfig& config, std::uint64_t seed);

/// A set's metric in an evaluation record: "<name>/<metric>", or the metric
/// itself for [data] eval.
std::string metric_key(const EvalSet& set, const std::string& metric);

/// The metric a benchmark table shows: greedy_accuracy, or pass@1 when greedy
/// evaluation is off.
std::string benchmark_metric(const ResolvedConfig& config);

/// The "average/<metric>" entries of an evaluation record that holds every
/// set's metrics: the mean over the sets of each metric all of them report.
/// Nothing when there are fewer than two sets.
void add_averages(nlohmann::json& record, const std::vector<EvalSet>& sets);

/// {"metric": M, "sets": [label...], "rows": [{"iteration": i, label: value,
/// ..., "average": value}]}, one row per evaluation record; null when the
/// config has no named set (the evaluation table then says it all).
nlohmann::json benchmark_table(const std::vector<EvalSet>& sets, const std::string& metric,
                               const std::vector<nlohmann::json>& eval_records);

}  // namespace genius::core
