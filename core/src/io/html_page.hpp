// Pieces shared by the self-contained HTML pages the host writes (a run's
// report.html, a sweep's sweep.html): number formatting for SVG and tables,
// chart axes with round ticks, and the page frame whose
// Content-Security-Policy forbids every external load.
#pragma once

#include <functional>
#include <string>
#include <vector>

namespace genius::core::html {

/// `v` with `significant` digits ("%.*g").
std::string format_number(double v, int significant = 4);

/// An SVG coordinate: one decimal is far below a pixel.
std::string coord(double v);

/// An axis from lo to hi in round steps of 1, 2 or 5 times a power of ten.
struct Axis {
  double lo = 0, hi = 1, step = 1;
  Axis(double min, double max, bool integer, int target_ticks = 6);
  std::vector<double> ticks() const;
  /// Tick label with as many decimals as the step needs (0.05 -> "0.15").
  std::string label(double v) const;
};

/// An SVG chart's size and the plot rectangle inside it.
struct PlotFrame {
  double width = 0, height = 0, left = 0, top = 0, plot_w = 0, plot_h = 0;
};

/// "<svg ...>" (labelled `label`, escaped) with the white plot rectangle and,
/// for every tick of `y`, a grid line and its label; `py` maps a value to
/// its y coordinate. The caller adds the data and "</svg>".
std::string svg_start(const PlotFrame& frame, const std::string& label, const Axis& y,
                      const std::function<double(double)>& py);

/// "<!DOCTYPE html> ... <main>\n": the head with the CSP, `title` (escaped)
/// and the shared style sheet.
std::string page_start(const std::string& title);
/// "</main></body></html>".
std::string page_end();

}  // namespace genius::core::html
