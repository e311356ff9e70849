#include "io/html_page.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "run/report.hpp"

namespace genius::core::html {

std::string format_number(double v, int significant) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*g", significant, v);
  return buf;
}

std::string coord(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

Axis::Axis(double min, double max, bool integer, int target_ticks) {
  if (!(max > min)) {
    const double pad = std::max(std::abs(min) * 0.1, integer ? 1.0 : 0.5);
    min -= pad;
    max += pad;
  }
  const double raw = (max - min) / target_ticks;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * magnitude;
  if (integer) step = std::max(1.0, std::round(step));
  lo = std::floor(min / step + 1e-9) * step;
  hi = std::ceil(max / step - 1e-9) * step;
}

std::vector<double> Axis::ticks() const {
  std::vector<double> t;
  for (long i = 0; lo + static_cast<double>(i) * step <= hi + step * 1e-6; ++i)
    t.push_back(lo + static_cast<double>(i) * step);
  return t;
}

std::string Axis::label(double v) const {
  if (std::abs(v) < step * 1e-6) v = 0;
  if (std::abs(v) >= 1e6 || step < 1e-4) return format_number(v, 3);
  const int decimals = step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

namespace {

const char* kStyle = R"(
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #222;
       background: #f7f7f8; margin: 0; }
main { max-width: 1000px; margin: 0 auto; padding: 16px 20px 40px; }
header h1 { margin: 0 0 6px; font-size: 24px; overflow-wrap: anywhere; }
header .facts span { margin-right: 18px; }
.status { padding: 2px 8px; border-radius: 10px; background: #e3e3e3; font-weight: 600; }
.status.ok { background: #d8f0d8; } .status.bad { background: #f6d5d5; } .status.busy { background: #f8ecc8; }
h2 { font-size: 18px; margin: 24px 0 8px; }
figure.chart { background: #fff; border: 1px solid #ddd; border-radius: 6px; margin: 12px 0; padding: 8px 12px; }
figure.chart figcaption { font-weight: 600; margin-bottom: 4px; }
figure.chart svg { display: block; max-width: 100%; height: auto; }
svg text { font-size: 12px; fill: #444; } svg text.marker { fill: #777; font-size: 11px; }
.legend span { margin-right: 16px; font-size: 13px; }
.legend i { display: inline-block; width: 14px; height: 3px; margin-right: 6px; vertical-align: middle; }
.nodata { color: #777; font-style: italic; margin: 8px 0; }
table { border-collapse: collapse; background: #fff; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 4px 10px; text-align: left; overflow-wrap: anywhere; }
th { background: #f0f0f0; }
pre { background: #fff; border: 1px solid #ddd; padding: 10px; overflow-x: auto; font-size: 12px; }
)";

}  // namespace

std::string svg_start(const PlotFrame& f, const std::string& label, const Axis& y,
                      const std::function<double(double)>& py) {
  std::string out = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 " + coord(f.width) + " " +
                    coord(f.height) + "\" width=\"" + coord(f.width) + "\" height=\"" + coord(f.height) +
                    "\" role=\"img\" aria-label=\"" + html_escape(label) + "\">\n";
  out += "<rect x=\"" + coord(f.left) + "\" y=\"" + coord(f.top) + "\" width=\"" + coord(f.plot_w) + "\" height=\"" +
         coord(f.plot_h) + "\" fill=\"#ffffff\" stroke=\"#c8c8c8\"/>\n";
  for (double t : y.ticks()) {
    const std::string ty = coord(py(t));
    out += "<line x1=\"" + coord(f.left) + "\" x2=\"" + coord(f.left + f.plot_w) + "\" y1=\"" + ty + "\" y2=\"" + ty +
           "\" stroke=\"#ececec\"/><text x=\"" + coord(f.left - 8) + "\" y=\"" + ty +
           "\" text-anchor=\"end\" dominant-baseline=\"middle\">" + y.label(t) + "</text>\n";
  }
  return out;
}

std::string page_start(const std::string& title) {
  return "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
         "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>" +
         html_escape(title) + "</title>\n<style>" + std::string(kStyle) + "</style>\n</head>\n<body>\n<main>\n";
}

std::string page_end() {
  return "</main>\n</body>\n</html>\n";
}

}  // namespace genius::core::html
