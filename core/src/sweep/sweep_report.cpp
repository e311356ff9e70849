#include "sweep/sweep_report.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <genius/helpers/atomic_file.hpp>

#include "io/html_page.hpp"
#include "run/report.hpp"

namespace genius::core {

namespace fs = std::filesystem;
using html::coord;
using html::format_number;
using nlohmann::json;

const std::vector<std::pair<std::string, std::string>>& sweep_metrics() {
  static const std::vector<std::pair<std::string, std::string>> metrics = {
      {"greedy_accuracy", report_colours::kGreedyAccuracy}, {"pass@1", report_colours::kPassAt1}};
  return metrics;
}

CellNumbers cell_numbers(const json& summary) {
  CellNumbers out;
  if (!summary.is_object()) return out;
  if (auto evals = summary.find("eval"); evals != summary.end() && evals->is_array() && !evals->empty()) {
    // [data] eval's metric; a run of [[eval.sets]] alone: their average.
    const json& last = evals->back();
    for (const auto& [metric, colour] : sweep_metrics())
      for (const std::string& key : {metric, "average/" + metric})
        if (last.contains(key) && last[key].is_number() && std::isfinite(last[key].get<double>())) {
          out.metrics[metric] = last[key].get<double>();
          break;
        }
  }
  if (auto stages = summary.find("stages"); stages != summary.end() && stages->is_object())
    for (const auto& [stage, info] : stages->items()) {
      if (!info.is_object()) continue;
      const std::int64_t tokens = info.value("generated_tokens", std::int64_t{0});
      if (info.contains("shared_from")) {
        out.tokens_saved += tokens;
        out.seconds_saved += info.value("seconds", 0.0);
      } else {
        out.tokens_sampled += tokens;
      }
    }
  out.wall_seconds = summary.value("wall_seconds", 0.0);
  return out;
}

MetricStats mean_std(const std::vector<double>& xs) {
  MetricStats s;
  s.n = xs.size();
  if (xs.empty()) return s;
  double sum = 0;
  for (double x : xs) sum += x;
  s.mean = sum / static_cast<double>(xs.size());
  if (xs.size() >= 2) {
    double squares = 0;
    for (double x : xs) squares += (x - s.mean) * (x - s.mean);
    s.std = std::sqrt(squares / static_cast<double>(xs.size() - 1));
  }
  return s;
}

std::vector<SweepGroupRow> summarize_groups(const std::vector<SweepCellResult>& cells) {
  std::vector<SweepGroupRow> rows;
  std::map<std::string, std::map<std::string, std::vector<double>>> samples;
  for (const SweepCellResult& c : cells) {
    auto row = std::find_if(rows.begin(), rows.end(), [&](const SweepGroupRow& r) { return r.group == c.group; });
    if (row == rows.end()) {
      rows.push_back({c.group, c.values, 0, 0, 0, {}, 0, 0, 0});
      row = rows.end() - 1;
    }
    const CellNumbers numbers = cell_numbers(c.summary);
    ++row->cells;
    row->failed += c.status == "failed";
    row->tokens_sampled += numbers.tokens_sampled;
    row->tokens_saved += numbers.tokens_saved;
    row->wall_seconds += numbers.wall_seconds;
    if (c.status != "finished") continue;
    ++row->finished;
    for (const auto& [metric, value] : numbers.metrics) samples[c.group][metric].push_back(value);
  }
  for (SweepGroupRow& row : rows)
    for (const auto& [metric, values] : samples[row.group]) row.metrics[metric] = mean_std(values);
  return rows;
}

// ------------------------------------------------------------------- csv

namespace {

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// Full precision for files that are read by programs.
std::string exact(double v) {
  return format_number(v, 10);
}

std::string value_of(const std::vector<std::pair<std::string, std::string>>& values, const std::string& key) {
  for (const auto& [k, v] : values)
    if (k == key) return v;
  return "";
}

std::string status_of(const SweepGroupRow& g) {
  if (g.finished == g.cells) return "finished";
  return std::to_string(g.finished) + "/" + std::to_string(g.cells) + " finished" +
         (g.failed ? ", " + std::to_string(g.failed) + " failed" : "");
}

}  // namespace

std::string render_sweep_csv(const std::vector<std::string>& axis_keys, const std::vector<SweepCellResult>& cells) {
  std::vector<std::string> header = {"row", "name"};
  header.insert(header.end(), axis_keys.begin(), axis_keys.end());
  for (const char* h : {"seed", "status", "n"}) header.emplace_back(h);
  for (const auto& [metric, colour] : sweep_metrics()) {
    header.push_back(metric + "_mean");
    header.push_back(metric + "_std");
  }
  for (const char* h : {"tokens_sampled", "tokens_saved", "wall_seconds", "explored_by"}) header.emplace_back(h);
  std::string out;
  auto line = [&](const std::vector<std::string>& fields) {
    for (std::size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + csv_field(fields[i]);
    out += "\n";
  };
  line(header);
  for (const SweepGroupRow& g : summarize_groups(cells)) {
    std::vector<std::string> f = {"group", g.group};
    for (const std::string& k : axis_keys) f.push_back(value_of(g.values, k));
    f.insert(f.end(), {"", status_of(g), std::to_string(g.finished)});
    for (const auto& [metric, colour] : sweep_metrics()) {
      auto it = g.metrics.find(metric);
      f.push_back(it == g.metrics.end() ? "" : exact(it->second.mean));
      f.push_back(it == g.metrics.end() || !it->second.std ? "" : exact(*it->second.std));
    }
    f.insert(f.end(), {std::to_string(g.tokens_sampled), std::to_string(g.tokens_saved), exact(g.wall_seconds), ""});
    line(f);
  }
  for (const SweepCellResult& c : cells) {
    const CellNumbers numbers = cell_numbers(c.summary);
    const bool finished = c.status == "finished";
    std::vector<std::string> f = {"cell", c.name};
    for (const std::string& k : axis_keys) f.push_back(value_of(c.values, k));
    f.insert(f.end(), {c.seed ? std::to_string(*c.seed) : "", c.status, finished ? "1" : "0"});
    for (const auto& [metric, colour] : sweep_metrics()) {
      auto it = numbers.metrics.find(metric);
      f.push_back(finished && it != numbers.metrics.end() ? exact(it->second) : "");
      f.push_back("");
    }
    f.insert(f.end(), {std::to_string(numbers.tokens_sampled), std::to_string(numbers.tokens_saved),
                       exact(numbers.wall_seconds), c.explored_by});
    line(f);
  }
  return out;
}

// -------------------------------------------------------------- markdown

namespace {

std::string md_cell(const std::string& s) {
  std::string out;
  for (char c : s) out += c == '|' ? std::string("\\|") : c == '\n' ? std::string(" ") : std::string(1, c);
  return out;
}

std::string stats_text(const SweepGroupRow& g, const std::string& metric) {
  auto it = g.metrics.find(metric);
  if (it == g.metrics.end()) return "—";
  std::string s = format_number(it->second.mean, 3);
  if (it->second.std) s += " ± " + format_number(*it->second.std, 2);
  return s;
}

struct Totals {
  std::size_t finished = 0, failed = 0, shared = 0;
  std::int64_t tokens_sampled = 0, tokens_saved = 0;
  double seconds_saved = 0;
};

Totals totals_of(const std::vector<SweepCellResult>& cells) {
  Totals t;
  for (const SweepCellResult& c : cells) {
    const CellNumbers n = cell_numbers(c.summary);
    t.finished += c.status == "finished";
    t.failed += c.status == "failed";
    t.shared += !c.explored_by.empty();
    t.tokens_sampled += n.tokens_sampled;
    t.tokens_saved += n.tokens_saved;
    t.seconds_saved += n.seconds_saved;
  }
  return t;
}

std::string totals_text(const std::vector<SweepCellResult>& cells) {
  const Totals t = totals_of(cells);
  std::string s = std::to_string(cells.size()) + " cells: " + std::to_string(t.finished) + " finished, " +
                  std::to_string(t.failed) + " failed, " + std::to_string(cells.size() - t.finished - t.failed) +
                  " not run or unfinished. " + std::to_string(t.tokens_sampled) +
                  " tokens sampled (exploration and evaluation). ";
  if (t.shared)
    s += std::to_string(t.shared) +
         " cells reused another cell's iteration-1 exploration and base evaluation, saving " +
         std::to_string(t.tokens_saved) + " generated tokens and " + format_number(t.seconds_saved, 3) + " s.";
  else
    s += "No cell reused another's exploration.";
  return s;
}

}  // namespace

std::string render_sweep_markdown(const std::string& name, const std::vector<std::string>& axis_keys,
                                  const std::vector<SweepCellResult>& cells) {
  std::string out = "# Sweep `" + name + "`\n\n" + totals_text(cells) + "\n\n";
  out +=
      "Final evaluation after the last iteration: mean ± sample standard deviation (n - 1) over the finished "
      "seeds; one finished seed shows the value alone.\n\n|";
  for (const std::string& k : axis_keys) out += " " + md_cell(k) + " |";
  for (const auto& [metric, colour] : sweep_metrics()) out += " " + metric + " |";
  out += " seeds | status | tokens sampled | wall time (s) |\n|";
  for (std::size_t i = 0; i < axis_keys.size() + sweep_metrics().size() + 4; ++i) out += "---|";
  out += "\n";
  for (const SweepGroupRow& g : summarize_groups(cells)) {
    out += "|";
    for (const std::string& k : axis_keys) out += " " + md_cell(value_of(g.values, k)) + " |";
    for (const auto& [metric, colour] : sweep_metrics()) out += " " + stats_text(g, metric) + " |";
    out += " " + std::to_string(g.finished) + " | " + status_of(g) + " | " + std::to_string(g.tokens_sampled) + " | " +
           format_number(g.wall_seconds, 4) + " |\n";
  }
  out += "\n## Cells\n\n| cell | status |";
  for (const auto& [metric, colour] : sweep_metrics()) out += " " + metric + " |";
  out += " tokens sampled | exploration |\n|---|---|";
  for (std::size_t i = 0; i < sweep_metrics().size() + 2; ++i) out += "---|";
  out += "\n";
  for (const SweepCellResult& c : cells) {
    const CellNumbers n = cell_numbers(c.summary);
    out += "| " + md_cell(c.name) + " | " + c.status +
           (c.status == "failed" ? " (see " + md_cell(c.name) + "/cell.log)" : "") + " |";
    for (const auto& [metric, colour] : sweep_metrics()) {
      auto it = n.metrics.find(metric);
      out += " " + (c.status == "finished" && it != n.metrics.end() ? format_number(it->second, 3) : "—") + " |";
    }
    out += " " + std::to_string(n.tokens_sampled) + " | " +
           (c.explored_by.empty() ? std::string("own") : "from " + md_cell(c.explored_by)) + " |\n";
  }
  return out;
}

// ------------------------------------------------------------------ html

namespace {

constexpr double kWidth = 960, kHeight = 360;
constexpr double kLeft = 72, kRight = 24, kTop = 16, kBottom = 110;

// One bar per group with an error bar of one standard deviation; bars of
// groups that share the first axis's value stand together, a gap between
// those clusters, the cluster's value under them.
std::string bar_chart(const std::string& metric, const std::string& colour, const std::vector<std::string>& axis_keys,
                      const std::vector<SweepGroupRow>& groups) {
  std::string caption = metric + " after the last iteration (mean ± std over seeds)";
  if (axis_keys.size() >= 2) {
    std::string inner;
    for (std::size_t k = 1; k < axis_keys.size(); ++k) inner += (k > 1 ? ", " : "") + axis_keys[k];
    caption += "; bars: " + inner + ", grouped by " + axis_keys[0];
  }
  std::string out = "<figure class=\"chart\">\n<figcaption>" + html_escape(caption) + "</figcaption>\n";
  double lo = 0, hi = metric == "greedy_accuracy" || metric == "pass@1" ? 1.0 : 0.0;
  bool any = false;
  for (const SweepGroupRow& g : groups)
    if (auto it = g.metrics.find(metric); it != g.metrics.end()) {
      any = true;
      const double sd = it->second.std.value_or(0);
      lo = std::min(lo, it->second.mean - sd);
      hi = std::max(hi, it->second.mean + sd);
    }
  if (!any) return out + "<p class=\"nodata\">No finished cell reported " + html_escape(metric) + ".</p>\n</figure>\n";

  // Slots: one per bar, half a slot between clusters.
  std::vector<double> slot(groups.size());
  std::vector<std::pair<std::size_t, std::size_t>> clusters;  // [first, last] group index
  std::vector<std::size_t> cluster_of(groups.size());
  // A cluster of two or more bars is named under them; a lone bar names its
  // first key's value itself.
  auto labelled = [&](std::size_t c) { return clusters[c].second > clusters[c].first; };
  double position = 0;
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const bool new_cluster = i == 0 || axis_keys.size() < 2 || value_of(groups[i].values, axis_keys[0]).empty() ||
                             value_of(groups[i].values, axis_keys[0]) != value_of(groups[i - 1].values, axis_keys[0]);
    if (new_cluster) {
      if (i > 0) position += axis_keys.size() >= 2 ? 0.5 : 0;
      clusters.push_back({i, i});
    }
    clusters.back().second = i;
    cluster_of[i] = clusters.size() - 1;
    slot[i] = position;
    position += 1;
  }
  const html::Axis ya(lo, hi, false, 5);
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  const double slot_w = plot_w / std::max(1.0, position);
  auto px = [&](double s) { return kLeft + (s + 0.5) * slot_w; };
  auto py = [&](double y) { return kTop + plot_h - (y - ya.lo) / (ya.hi - ya.lo) * plot_h; };
  const double bar_w = std::min(80.0, slot_w * 0.6);

  out += html::svg_start({kWidth, kHeight, kLeft, kTop, plot_w, plot_h}, metric, ya, py);
  out += "<text transform=\"translate(16 " + coord(kTop + plot_h / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
         html_escape(metric) + "</text>\n";
  const double zero = py(std::clamp(0.0, ya.lo, ya.hi));
  for (std::size_t i = 0; i < groups.size(); ++i) {
    const SweepGroupRow& g = groups[i];
    const double x = px(slot[i]);
    // The bar's label: the values the group has (a key of another grid has
    // none), less the cluster's value when its cluster is labelled.
    const bool clustered = labelled(cluster_of[i]);
    std::string label;
    for (std::size_t k = clustered ? 1 : 0; k < axis_keys.size(); ++k)
      if (const std::string v = value_of(g.values, axis_keys[k]); !v.empty()) label += (label.empty() ? "" : ", ") + v;
    if (label.empty()) label = g.group;
    // Long labels are cut (whole in the tooltip) so the first stays on the chart.
    std::size_t cut = std::min<std::size_t>(label.size(), 21);
    while (cut > 0 && cut < label.size() && (static_cast<unsigned char>(label[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
    const std::string shown = label.size() > 22 ? label.substr(0, cut) + "…" : label;
    out += "<text transform=\"translate(" + coord(x) + " " + coord(kTop + plot_h + 14) +
           ") rotate(-30)\" text-anchor=\"end\"><title>" + html_escape(label) + "</title>" + html_escape(shown) +
           "</text>\n";
    auto it = g.metrics.find(metric);
    if (it == g.metrics.end()) continue;
    const MetricStats& s = it->second;
    const double top = py(s.mean);
    const std::string tip = g.group + ": " + format_number(s.mean, 4) +
                            (s.std ? " ± " + format_number(*s.std, 3) : std::string()) +
                            " (n = " + std::to_string(s.n) + ")";
    out += "<rect x=\"" + coord(x - bar_w / 2) + "\" y=\"" + coord(std::min(top, zero)) + "\" width=\"" + coord(bar_w) +
           "\" height=\"" + coord(std::abs(zero - top)) + "\" fill=\"" + colour + "\"><title>" + html_escape(tip) +
           "</title></rect>\n";
    if (s.std && *s.std > 0) {
      const std::string y1 = coord(py(s.mean - *s.std)), y2 = coord(py(s.mean + *s.std));
      const std::string cx = coord(x), l = coord(x - bar_w / 4), r = coord(x + bar_w / 4);
      out += "<path d=\"M" + cx + " " + y1 + "V" + y2 + "M" + l + " " + y1 + "H" + r + "M" + l + " " + y2 + "H" + r +
             "\" stroke=\"#333333\" stroke-width=\"1.5\" fill=\"none\"/>\n";
    }
  }
  for (std::size_t c = 0; c < clusters.size(); ++c)
    if (labelled(c)) {
      const auto [first, last] = clusters[c];
      const double x = (px(slot[first]) + px(slot[last])) / 2;
      out += "<text x=\"" + coord(x) + "\" y=\"" + coord(kHeight - 8) +
             "\" text-anchor=\"middle\" font-weight=\"600\">" +
             html_escape(axis_keys[0] + " = " + value_of(groups[first].values, axis_keys[0])) + "</text>\n";
    }
  return out + "</svg>\n</figure>\n";
}

std::string html_table(const std::vector<std::string>& header, const std::vector<std::vector<std::string>>& rows) {
  std::string out = "<table>\n<thead><tr>";
  for (const std::string& h : header) out += "<th>" + html_escape(h) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (const auto& row : rows) {
    out += "<tr>";
    for (const std::string& c : row) out += "<td>" + html_escape(c) + "</td>";
    out += "</tr>\n";
  }
  return out + "</tbody>\n</table>\n";
}

}  // namespace

std::string render_sweep_html(const std::string& name, const std::vector<std::string>& axis_keys,
                              const std::vector<SweepCellResult>& cells) {
  const std::vector<SweepGroupRow> groups = summarize_groups(cells);
  std::string page = html::page_start(name + " — Genius sweep");
  page +=
      "<header>\n<h1>Sweep " + html_escape(name) + "</h1>\n<p>" + html_escape(totals_text(cells)) + "</p>\n</header>\n";
  page += "<section>\n<h2>Final evaluation</h2>\n";
  for (const auto& [metric, colour] : sweep_metrics()) page += bar_chart(metric, colour, axis_keys, groups);
  page += "</section>\n<section>\n<h2>Groups</h2>\n";
  std::vector<std::string> header = axis_keys;
  for (const auto& [metric, colour] : sweep_metrics()) header.push_back(metric);
  for (const char* h : {"seeds", "status", "tokens sampled", "wall time (s)"}) header.emplace_back(h);
  std::vector<std::vector<std::string>> rows;
  for (const SweepGroupRow& g : groups) {
    std::vector<std::string> row;
    row.reserve(header.size());
    for (const std::string& k : axis_keys) row.push_back(value_of(g.values, k));
    for (const auto& [metric, colour] : sweep_metrics()) row.push_back(stats_text(g, metric));
    row.insert(row.end(), {std::to_string(g.finished), status_of(g), std::to_string(g.tokens_sampled),
                           format_number(g.wall_seconds, 4)});
    rows.push_back(std::move(row));
  }
  page += html_table(header, rows) + "</section>\n<section>\n<h2>Cells</h2>\n";
  rows.clear();
  for (const SweepCellResult& c : cells) {
    const CellNumbers n = cell_numbers(c.summary);
    std::vector<std::string> row = {c.name, c.status};
    for (const auto& [metric, colour] : sweep_metrics()) {
      auto it = n.metrics.find(metric);
      row.push_back(c.status == "finished" && it != n.metrics.end() ? format_number(it->second, 4) : "—");
    }
    row.push_back(std::to_string(n.tokens_sampled));
    row.push_back(c.explored_by.empty() ? "own" : "from " + c.explored_by);
    rows.push_back(std::move(row));
  }
  header = {"cell", "status"};
  for (const auto& [metric, colour] : sweep_metrics()) header.push_back(metric);
  header.insert(header.end(), {"tokens sampled", "exploration"});
  page += html_table(header, rows) + "</section>\n";
  return page + html::page_end();
}

void write_sweep_tables(const fs::path& dir, const std::string& name, const std::vector<std::string>& axis_keys,
                        const std::vector<SweepCellResult>& cells) {
  write_file_atomic(dir / "sweep.csv", render_sweep_csv(axis_keys, cells));
  write_file_atomic(dir / "sweep.md", render_sweep_markdown(name, axis_keys, cells));
  write_file_atomic(dir / "sweep.html", render_sweep_html(name, axis_keys, cells));
}

}  // namespace genius::core
