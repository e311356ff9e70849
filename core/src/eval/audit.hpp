// The self-reward audit: how well the run's own scores see right from wrong.
//
// Once per iteration, before training, the run explores a labeled probe set
// with its own sampler and value estimator and the policy of that iteration,
// turns the records into pairs as training would, and only then reads the
// probe's answers, to measure (docs/audit.md):
//
//   audit/value_auc        ROC-AUC of the candidates' scores at separating
//                          trajectories whose final answer is right from wrong
//                          (all recorded trajectories; also per step index, and
//                          within each pool, averaged: value_auc_within_pool)
//   audit/pair_precision   among pairs whose sides differ in correctness, the
//                          fraction whose chosen side is right
//   audit/same_answer_pairs  share of pairs whose two sides reach the same answer
//
// each also split by whether the item's greedy answer is right or wrong
// (suffix /greedy_right, /greedy_wrong), plus per-level accuracies. Nothing of
// the audit reaches the training data: it writes under iter-N/audit/ only.
//
//   AuditOptions o = AuditOptions::from_config(config, run_seed);
//   if (o.enabled()) { json m = run_audit(policy, sampler, values, o, iteration, dir / "audit"); }
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include <genius/sdk.hpp>

#include "config/config.hpp"
#include "eval/evaluator.hpp"

namespace genius::core {

/// The [audit] keys, with what they borrow from [data] and [eval].
struct AuditOptions {
  std::size_t items = 0;   ///< [audit] items: probe items per iteration; 0 = the audit is off
  EvalOptions probe;       ///< the probe file ([audit] file, else [data] eval) and how to read and answer it
  std::uint64_t seed = 0;  ///< the run seed: the probe subset and the exploration seeds derive from it

  bool enabled() const { return items > 0; }
  static AuditOptions from_config(const ResolvedConfig& config, std::uint64_t run_seed);
};

/// Every item of the probe file, read like [data] eval items. Throws
/// std::runtime_error naming [audit] when no file is set, and file:line for a
/// line that is not a labeled item.
std::vector<EvalItem> load_probe_items(const AuditOptions& options);

/// ROC-AUC of `scores` at ranking the `positive` entries above the others:
/// the probability that a random positive outscores a random negative, ties
/// counting one half (the Mann-Whitney statistic with mid-ranks). nullopt
/// when either class is empty.
std::optional<double> roc_auc(const std::vector<double>& scores, const std::vector<bool>& positive);

/// One probe item as the audit saw it, with the labels applied.
struct AuditedItem {
  const EvalItem* item = nullptr;
  bool greedy_right = false;
  ExplorationRecord record;
  std::vector<PreferencePair> pairs;
};

/// The metrics of audited items (the pure part of run_audit; no model).
/// `extract` reads final answers. Keys: "items", "audit/value_auc",
/// "audit/value_auc/step_T", "audit/value_auc_within_pool", "audit/mixed_pools", "audit/pair_precision",
/// "audit/one_sided_pairs", "audit/same_answer_pairs", "audit/pairs", "audit/chosen_right", "audit/tree_has_right",
/// "audit/response_accuracy", "audit/greedy_accuracy", each of the audit/ keys also with "/greedy_right" and
/// "/greedy_wrong", and "audit/greedy_accuracy/level_L", "audit/response_accuracy/level_L" where items carry levels. A
/// metric with nothing to measure is null.
nlohmann::json audit_metrics(const std::vector<AuditedItem>& items, const AnswerJudge& judge);

/// The whole audit of one iteration: draw `options.items` probe items (a
/// seeded subset, the same in every iteration), answer them greedily, explore
/// them with `sampler` and `values` on `policy`, make their pairs, and write
/// `out_dir`/{greedy.jsonl, records.jsonl, pairs.jsonl, items.jsonl, metrics.json}
/// (each atomically). Returns the metrics, with "iteration" set.
nlohmann::json run_audit(ModelBackend& policy, Sampler& sampler, ValueEstimator& values, const AuditOptions& options,
                         int iteration, const std::filesystem::path& out_dir);

}  // namespace genius::core
