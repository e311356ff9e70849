// report.html: one self-contained page summarising a run — header, training
// curves, evaluation per iteration, the audit, what each exploration
// generated, final metrics and the resolved config.
//
// The charts are inline SVG drawn here, so the page needs no script, no
// network and no external file, and renders the same in any browser, offline.
// A Content-Security-Policy in the page forbids every external load.
//
//   std::string html = render_report(summary, step_metrics, eval_metrics, config.to_toml());
//   write_file_atomic(run_dir / "report.html", html);
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace genius::core {

/// The stroke colour of each plotted metric. Every colour appears on the page
/// only in its own chart (line, markers and legend swatch); the rendering
/// test finds the charts in a screenshot by these colours.
namespace report_colours {
inline constexpr const char* kLoss = "#1f77b4";
inline constexpr const char* kRewardsChosen = "#17becf";
inline constexpr const char* kRewardsRejected = "#8c564b";
inline constexpr const char* kRewardsMargins = "#d62728";
inline constexpr const char* kRewardsAccuracies = "#2ca02c";
inline constexpr const char* kGreedyAccuracy = "#9467bd";
inline constexpr const char* kPassAt1 = "#ff7f0e";
inline constexpr const char* kAuditValueAuc = "#e377c2";
inline constexpr const char* kAuditPairPrecision = "#bcbd22";
inline constexpr const char* kAuditPairPrecisionGreedyWrong = "#7f7f7f";
inline constexpr const char* kAuditSameAnswerPairs = "#aec7e8";
}  // namespace report_colours

/// The whole HTML page of a run.
///
/// - `summary`: an object; "name", "status" and "wall_seconds" make the
///   header; every other scalar field is listed in a "Run" table; an object
///   under "final_metrics" is the final-metrics table (without one, that
///   table shows the last evaluation and the last training step).
/// - `step_metrics`: one object per logged optimizer step, in order, with
///   "iteration", "step", "loss", "rewards/margins", "rewards/accuracies", ...
///   The x axis is "step" when it increases strictly across the records,
///   otherwise the record's position (1-based).
/// - `eval_metrics`: one object per evaluation, with "iteration" (0 = before
///   training), "greedy_accuracy", "pass@1", ...
/// - `resolved_config_toml`: shown verbatim.
/// - `audit_metrics`: one object per self-reward audit (audit.hpp), with
///   "iteration", "audit/value_auc", "audit/pair_precision", ...; with none,
///   the page has no audit section.
/// - `explore_metrics`: one object per exploration (an explore stage's info
///   with "iteration"); its "generation" object (and the critic's) fill the
///   "Exploration: generation by iteration" table; with none, no such section.
///
/// Missing fields, non-numbers and non-finite numbers are skipped; a chart
/// without data shows a "no data" note instead. Every string from the inputs
/// is HTML-escaped.
std::string render_report(const nlohmann::json& summary, const std::vector<nlohmann::json>& step_metrics,
                          const std::vector<nlohmann::json>& eval_metrics, const std::string& resolved_config_toml,
                          const std::vector<nlohmann::json>& audit_metrics = {},
                          const std::vector<nlohmann::json>& explore_metrics = {});

/// `text` with & < > " ' replaced by character references (safe in element
/// content and in quoted attribute values).
std::string html_escape(const std::string& text);

}  // namespace genius::core
