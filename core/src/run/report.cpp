#include "run/report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>
#include <string_view>
#include <utility>

#include "io/html_page.hpp"

namespace genius::core {
using html::Axis;
using html::coord;
using html::format_number;
using html::page_end;
using html::page_start;
using nlohmann::json;

namespace {

// ------------------------------------------------------------ small helpers

std::optional<double> number(const json& record, const std::string& key) {
  if (!record.is_object()) return std::nullopt;
  const auto it = record.find(key);
  if (it == record.end() || !it->is_number()) return std::nullopt;
  const double v = it->get<double>();
  if (!std::isfinite(v)) return std::nullopt;
  return v;
}

// A JSON value as table text: strings as they are, numbers to 6 digits.
std::string value_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return v.dump();
  if (v.is_number()) return std::isfinite(v.get<double>()) ? format_number(v.get<double>(), 6) : "—";
  if (v.is_null()) return "—";
  return v.dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string format_duration(double seconds) {
  if (seconds < 60) return format_number(seconds, 3) + " s";
  const long total = std::lround(seconds);
  char buf[64];
  if (total < 3600)
    std::snprintf(buf, sizeof buf, "%ld min %02ld s", total / 60, total % 60);
  else
    std::snprintf(buf, sizeof buf, "%ld h %02ld min %02ld s", total / 3600, total / 60 % 60, total % 60);
  return buf;
}

// ------------------------------------------------------------------ charts

struct Point {
  double x = 0, y = 0;
};

struct Series {
  std::string label;
  std::string colour;
  std::vector<Point> points;
};

// A vertical dashed line with a label (the first step of an iteration).
struct Marker {
  double x = 0;
  std::string label;
};

struct ChartSpec {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool integer_x = true;
  std::optional<std::pair<double, double>> x_range;  ///< always shown (data outside widens it)
  std::optional<std::pair<double, double>> y_range;
  std::vector<Marker> markers;
  std::string empty_note;
};

constexpr double kWidth = 960, kHeight = 300;
constexpr double kLeft = 72, kRight = 24, kTop = 16, kBottom = 48;
constexpr std::size_t kMaxMarkers = 60;  // point markers only on short series

std::string legend(const std::vector<Series>& series) {
  std::string out = "<div class=\"legend\">";
  for (const Series& s : series)
    if (!s.points.empty())
      out += "<span><i style=\"background:" + s.colour + "\"></i>" + html_escape(s.label) + "</span>";
  return out + "</div>\n";
}

// A line chart as a <figure>: inline SVG with grid, axes, markers, one
// polyline per series; or the empty note when no series has a point.
std::string line_chart(const ChartSpec& spec, const std::vector<Series>& series) {
  std::string out = "<figure class=\"chart\">\n<figcaption>" + html_escape(spec.title) + "</figcaption>\n";
  double x_min = std::numeric_limits<double>::infinity(), x_max = -x_min, y_min = x_min, y_max = -x_min;
  for (const Series& s : series)
    for (const Point& p : s.points) {
      x_min = std::min(x_min, p.x);
      x_max = std::max(x_max, p.x);
      y_min = std::min(y_min, p.y);
      y_max = std::max(y_max, p.y);
    }
  if (!std::isfinite(x_min)) return out + "<p class=\"nodata\">" + html_escape(spec.empty_note) + "</p>\n</figure>\n";
  if (spec.x_range) {
    x_min = std::min(x_min, spec.x_range->first);
    x_max = std::max(x_max, spec.x_range->second);
  }
  if (spec.y_range) {
    y_min = std::min(y_min, spec.y_range->first);
    y_max = std::max(y_max, spec.y_range->second);
  }
  const Axis xa(x_min, x_max, spec.integer_x, 8), ya(y_min, y_max, false, 5);
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  auto px = [&](double x) { return kLeft + (x - xa.lo) / (xa.hi - xa.lo) * plot_w; };
  auto py = [&](double y) { return kTop + plot_h - (y - ya.lo) / (ya.hi - ya.lo) * plot_h; };

  out += html::svg_start({kWidth, kHeight, kLeft, kTop, plot_w, plot_h}, spec.title, ya, py);
  for (double t : xa.ticks()) {
    const std::string x = coord(px(t));
    out += "<line x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + coord(kTop + plot_h) + "\" y2=\"" +
           coord(kTop + plot_h + 5) + "\" stroke=\"#888888\"/><text x=\"" + x + "\" y=\"" + coord(kTop + plot_h + 18) +
           "\" text-anchor=\"middle\">" + xa.label(t) + "</text>\n";
  }
  out += "<text x=\"" + coord(kLeft + plot_w / 2) + "\" y=\"" + coord(kHeight - 8) + "\" text-anchor=\"middle\">" +
         html_escape(spec.x_label) + "</text>\n";
  out += "<text transform=\"translate(16 " + coord(kTop + plot_h / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
         html_escape(spec.y_label) + "</text>\n";
  for (const Marker& m : spec.markers) {
    const std::string x = coord(px(m.x));
    out += "<line x1=\"" + x + "\" x2=\"" + x + "\" y1=\"" + coord(kTop) + "\" y2=\"" + coord(kTop + plot_h) +
           "\" stroke=\"#9a9a9a\" stroke-dasharray=\"4 4\"/><text x=\"" + coord(px(m.x) + 4) + "\" y=\"" +
           coord(kTop + 12) + "\" class=\"marker\">" + html_escape(m.label) + "</text>\n";
  }
  for (const Series& s : series) {
    if (s.points.empty()) continue;
    out += "<polyline fill=\"none\" stroke=\"" + s.colour +
           "\" stroke-width=\"2.5\" stroke-linejoin=\"round\" stroke-linecap=\"round\" points=\"";
    for (std::size_t i = 0; i < s.points.size(); ++i)
      out += (i ? " " : "") + coord(px(s.points[i].x)) + "," + coord(py(s.points[i].y));
    out += "\"><title>" + html_escape(s.label) + "</title></polyline>\n";
    if (s.points.size() <= kMaxMarkers)
      for (const Point& p : s.points)
        out += "<circle cx=\"" + coord(px(p.x)) + "\" cy=\"" + coord(py(p.y)) + "\" r=\"3.5\" fill=\"" + s.colour +
               "\"><title>" + html_escape(s.label) + " = " + format_number(p.y, 6) + " at " + format_number(p.x, 6) +
               "</title></circle>\n";
  }
  return out + "</svg>\n" + legend(series) + "</figure>\n";
}

// x of each step record: its "step" when steps increase strictly across the
// records (a global counter), otherwise its 1-based position (per-iteration
// counters restart, which would fold iterations on top of each other).
struct StepAxis {
  std::vector<double> xs;
  std::string label;
};

StepAxis step_axis(const std::vector<json>& records) {
  StepAxis axis{std::vector<double>(records.size()), "optimizer step"};
  double previous = -std::numeric_limits<double>::infinity();
  for (std::size_t i = 0; i < records.size(); ++i) {
    const auto step = number(records[i], "step");
    if (!step || *step <= previous) {
      for (std::size_t j = 0; j < records.size(); ++j) axis.xs[j] = static_cast<double>(j + 1);
      axis.label = "optimizer step (counted over all iterations)";
      break;
    }
    previous = axis.xs[i] = *step;
  }
  return axis;
}

Series series_of(const std::vector<json>& records, const std::vector<double>& xs, const std::string& key,
                 const std::string& colour) {
  Series s{key, colour, {}};
  for (std::size_t i = 0; i < records.size(); ++i)
    if (const auto y = number(records[i], key)) s.points.push_back({xs[i], *y});
  return s;
}

// Where each iteration after the first begins, halfway between its first
// step and the previous step.
std::vector<Marker> iteration_markers(const std::vector<json>& records, const std::vector<double>& xs) {
  std::vector<Marker> markers;
  for (std::size_t i = 1; i < records.size(); ++i) {
    const auto previous = number(records[i - 1], "iteration"), current = number(records[i], "iteration");
    if (previous && current && *previous != *current)
      markers.push_back({(xs[i - 1] + xs[i]) / 2, "iteration " + format_number(*current, 6)});
  }
  return markers;
}

// ------------------------------------------------------------------ tables

using Row = std::pair<std::string, std::string>;

std::string table(const std::vector<Row>& rows, const std::string& key_header, const std::string& value_header) {
  std::string out = "<table>\n<thead><tr><th>" + html_escape(key_header) + "</th><th>" + html_escape(value_header) +
                    "</th></tr></thead>\n<tbody>\n";
  for (const auto& [k, v] : rows) out += "<tr><td>" + html_escape(k) + "</td><td>" + html_escape(v) + "</td></tr>\n";
  return out + "</tbody>\n</table>\n";
}

void add_fields(std::vector<Row>& rows, const json& record, const std::string& prefix) {
  if (!record.is_object()) return;
  for (const auto& [k, v] : record.items()) rows.push_back({prefix + k, value_text(v)});
}

// Final metrics: the summary's own "final_metrics" when it has them,
// otherwise the last evaluation and the last training step.
std::string final_metrics_section(const json& summary, const std::vector<json>& steps, const std::vector<json>& evals) {
  std::string out = "<section>\n<h2>Final metrics</h2>\n";
  std::vector<Row> rows;
  if (summary.is_object() && summary.contains("final_metrics") && summary["final_metrics"].is_object()) {
    add_fields(rows, summary["final_metrics"], "");
  } else {
    if (!evals.empty()) add_fields(rows, evals.back(), "eval/");
    if (!steps.empty()) add_fields(rows, steps.back(), "train/");
  }
  if (rows.empty()) return out + "<p class=\"nodata\">No metrics recorded.</p>\n</section>\n";
  return out + table(rows, "metric", "value") + "</section>\n";
}

// One row per record (an evaluation, an audit), one column per field seen in
// any of them that `keep` accepts.
std::string by_iteration_table(const std::string& title, const std::vector<json>& evals, const std::string& empty_note,
                               bool (*keep)(const std::string&)) {
  std::string out = "<section>\n<h2>" + html_escape(title) + "</h2>\n";
  std::vector<std::string> columns = {"iteration"};
  for (const json& e : evals)
    if (e.is_object())
      for (const auto& [k, v] : e.items())
        if (keep(k) && std::find(columns.begin(), columns.end(), k) == columns.end()) columns.push_back(k);
  if (evals.empty()) return out + "<p class=\"nodata\">" + html_escape(empty_note) + "</p>\n</section>\n";
  out += "<table>\n<thead><tr>";
  for (const std::string& c : columns) out += "<th>" + html_escape(c) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (const json& e : evals) {
    out += "<tr>";
    for (const std::string& c : columns)
      out += "<td>" + html_escape(e.is_object() && e.contains(c) ? value_text(e[c]) : "—") + "</td>";
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table>\n</section>\n";
}

// summary["benchmarks"] (eval_sets.hpp): one row per evaluation, one column
// per benchmark and their average, in percent, like the paper's Table 1.
std::string benchmark_section(const json& summary) {
  const json* table = summary.is_object() && summary.contains("benchmarks") ? &summary["benchmarks"] : nullptr;
  if (!table || !table->is_object() || !table->contains("sets") || !table->contains("rows")) return "";
  std::vector<std::string> columns;
  for (const json& s : (*table)["sets"])
    if (s.is_string()) columns.push_back(s.get<std::string>());
  if (columns.size() >= 2) columns.push_back("average");
  std::string out = "<section>\n<h2>Benchmarks (" + html_escape(table->value("metric", std::string("accuracy"))) +
                    ", %)</h2>\n<table>\n<thead><tr><th>iteration</th>";
  for (const std::string& c : columns) out += "<th>" + html_escape(c) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (const json& row : (*table)["rows"]) {
    const auto it = number(row, "iteration");
    out += "<tr><td>" + (!it ? std::string("—") : *it == 0 ? std::string("base") : format_number(*it, 6)) + "</td>";
    for (const std::string& c : columns) {
      const auto v = number(row, c);
      char cell[32] = "—";
      if (v) std::snprintf(cell, sizeof cell, "%.1f", 100 * *v);
      out += std::string("<td>") + cell + "</td>";
    }
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table>\n</section>\n";
}

std::string eval_table_section(const std::vector<json>& evals) {
  return by_iteration_table("Evaluation by iteration", evals, "No evaluation recorded.",
                            [](const std::string&) { return true; });
}

// The audit's headline metrics (per-step AUCs and counts stay in summary.json).
std::string audit_table_section(const std::vector<json>& audits) {
  return by_iteration_table("Self-reward audit by iteration (before training)", audits, "No audit recorded.",
                            [](const std::string& k) {
                              return k.find("/step_") == std::string::npos && k.find("/level_") == std::string::npos &&
                                     k.rfind("audit/items", 0) != 0 && k != "kind";
                            });
}

// What each exploration generated (the explore stages' "generation" objects,
// docs/run-directory.md): one row per iteration and model (policy, critic).
std::string explore_table_section(const std::vector<json>& explores) {
  static const std::vector<std::pair<const char*, const char*>> columns = {
      {"calls", "generate calls"},
      {"prompt_tokens", "prompt tokens"},
      {"prompt_tokens_computed", "prefill computed"},
      {"prompt_tokens_reused", "prefill reused"},
      {"prefix_cache_hit_rate", "cache hit rate"},
      {"generated_tokens", "generated tokens"},
      {"decode_steps", "decode steps"},
      {"avg_live_rows", "avg live rows"},
      {"kv_peak_mib", "KV peak MiB"},
      {"prefix_cache_evicted_tokens", "evicted tokens"}};
  std::string out = "<section>\n<h2>Exploration: generation by iteration</h2>\n";
  if (explores.empty()) return out + "<p class=\"nodata\">No exploration recorded.</p>\n</section>\n";
  out += "<table>\n<thead><tr><th>iteration</th><th>model</th><th>queries</th><th>seconds</th>";
  for (const auto& column : columns) out += "<th>" + html_escape(column.second) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  auto cell = [](const json& record, const char* key) {
    return "<td>" + html_escape(record.is_object() && record.contains(key) ? value_text(record[key]) : "—") + "</td>";
  };
  for (const json& e : explores) {
    if (!e.is_object()) continue;
    auto row = [&](const std::string& model, const json& generation, const std::string& stage_cells) {
      out += "<tr>" + cell(e, "iteration") + "<td>" + html_escape(model) + "</td>" + stage_cells;
      for (const auto& column : columns) out += cell(generation, column.first);
      out += "</tr>\n";
    };
    row("policy", e.value("generation", json::object()), cell(e, "queries") + cell(e, "seconds"));
    if (e.contains("critic") && e["critic"].is_object() && e["critic"].contains("generation"))
      row("critic", e["critic"]["generation"], "<td>—</td><td>—</td>");
  }
  return out + "</tbody>\n</table>\n</section>\n";
}

// ------------------------------------------------------------------ page

// A CSS class for known statuses; the status text itself is only ever
// escaped content, never part of an attribute.
const char* status_class(const std::string& status) {
  if (status == "completed" || status == "succeeded" || status == "done" || status == "ok") return "status ok";
  if (status == "failed" || status == "error" || status == "interrupted") return "status bad";
  if (status == "running" || status == "resumed") return "status busy";
  return "status";
}

std::string header_section(const json& summary) {
  const bool object = summary.is_object();
  auto text = [&](const char* key, const std::string& fallback) {
    return object && summary.contains(key) ? value_text(summary[key]) : fallback;
  };
  const std::string name = text("name", "unnamed run");
  const std::string status = text("status", "unknown");
  const std::optional<double> wall = number(summary, "wall_seconds");
  std::string out = "<header>\n<h1>" + html_escape(name) + "</h1>\n<div class=\"facts\"><span>status <b class=\"" +
                    status_class(status) + "\">" + html_escape(status) + "</b></span><span>wall time " +
                    (wall ? html_escape(format_duration(*wall)) : std::string("—")) + "</span></div>\n</header>\n";
  // Scalars only: nested records (per-stage state, the evaluations) have
  // their own sections or belong in summary.json.
  std::vector<Row> rows;
  if (object)
    for (const auto& [k, v] : summary.items())
      if (!v.is_structured() && k != "name" && k != "status" && k != "wall_seconds") rows.push_back({k, value_text(v)});
  if (!rows.empty()) out += "<section>\n<h2>Run</h2>\n" + table(rows, "field", "value") + "</section>\n";
  return out;
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string render_report(const json& summary, const std::vector<json>& step_metrics,
                          const std::vector<json>& eval_metrics, const std::string& resolved_config_toml,
                          const std::vector<json>& audit_metrics, const std::vector<json>& explore_metrics) {
  namespace colour = report_colours;
  const StepAxis steps = step_axis(step_metrics);
  const std::vector<double>& xs = steps.xs;
  const std::vector<Marker> markers = iteration_markers(step_metrics, xs);
  const std::string& step_label = steps.label;

  const auto fraction = std::make_pair(0.0, 1.0);
  const ChartSpec loss{"Training loss", step_label, "loss", true, {}, {}, markers, "No training steps recorded."};
  const ChartSpec rewards{"Implicit rewards",           step_label, "reward", true, {}, {}, markers,
                          "No reward metrics recorded."};
  const ChartSpec accuracies{"Reward accuracy (chosen reward > rejected reward)",
                             step_label,
                             "fraction of pairs",
                             true,
                             {},
                             fraction,
                             markers,
                             "No reward accuracies recorded."};
  const ChartSpec eval{"Evaluation accuracy (iteration 0 = before training)",
                       "iteration",
                       "accuracy",
                       true,
                       fraction,
                       fraction,
                       {},
                       "No evaluation recorded."};

  std::vector<double> eval_xs(eval_metrics.size());
  for (std::size_t i = 0; i < eval_metrics.size(); ++i)
    eval_xs[i] = number(eval_metrics[i], "iteration").value_or(static_cast<double>(i));

  std::string page = page_start(
      (summary.is_object() && summary.contains("name") ? value_text(summary["name"]) : "run") + " — Genius report");
  page += header_section(summary);
  page += "<section>\n<h2>Training</h2>\n";
  page += line_chart(loss, {series_of(step_metrics, xs, "loss", colour::kLoss)});
  page += line_chart(rewards, {series_of(step_metrics, xs, "rewards/chosen", colour::kRewardsChosen),
                               series_of(step_metrics, xs, "rewards/rejected", colour::kRewardsRejected),
                               series_of(step_metrics, xs, "rewards/margins", colour::kRewardsMargins)});
  page += line_chart(accuracies, {series_of(step_metrics, xs, "rewards/accuracies", colour::kRewardsAccuracies)});
  page += "</section>\n<section>\n<h2>Evaluation</h2>\n";
  page += line_chart(eval, {series_of(eval_metrics, eval_xs, "greedy_accuracy", colour::kGreedyAccuracy),
                            series_of(eval_metrics, eval_xs, "pass@1", colour::kPassAt1)});
  page += "</section>\n";
  page += benchmark_section(summary);
  page += eval_table_section(eval_metrics);
  if (!audit_metrics.empty()) {
    std::vector<double> audit_xs(audit_metrics.size());
    for (std::size_t i = 0; i < audit_metrics.size(); ++i)
      audit_xs[i] = number(audit_metrics[i], "iteration").value_or(static_cast<double>(i + 1));
    const ChartSpec audit{"Self-reward audit (labels used to measure only)",
                          "iteration",
                          "fraction / AUC",
                          true,
                          {},
                          fraction,
                          {},
                          "No audit recorded."};
    page += "<section>\n<h2>Self-reward audit</h2>\n";
    page += line_chart(audit,
                       {series_of(audit_metrics, audit_xs, "audit/value_auc", colour::kAuditValueAuc),
                        series_of(audit_metrics, audit_xs, "audit/pair_precision", colour::kAuditPairPrecision),
                        series_of(audit_metrics, audit_xs, "audit/pair_precision/greedy_wrong",
                                  colour::kAuditPairPrecisionGreedyWrong),
                        series_of(audit_metrics, audit_xs, "audit/same_answer_pairs", colour::kAuditSameAnswerPairs)});
    page += "</section>\n";
    page += audit_table_section(audit_metrics);
  }
  if (!explore_metrics.empty()) page += explore_table_section(explore_metrics);
  page += final_metrics_section(summary, step_metrics, eval_metrics);
  page += "<section>\n<h2>Resolved config</h2>\n<pre>" + html_escape(resolved_config_toml) + "</pre>\n</section>\n";
  page += page_end();
  return page;
}

}  // namespace genius::core
