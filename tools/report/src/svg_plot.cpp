#include "svg_plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>

#include "reprise/report/junit.hpp"  // xml_escape

namespace reprise::report {
namespace {

// The drawing, in viewBox units, with one legend row; more rows make it taller.
constexpr double kWidth = 720, kHeight = 300;
constexpr double kLeft = 64, kRight = 28, kBottom = 46;
constexpr double kTitleHeight = 24, kLegendRow = 18;
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr double kPercentileMax = 99.9999;
constexpr int kLinearTicks = 6;
constexpr std::size_t kMarkersUpTo = 24;  // series with at most this many points get markers

std::string esc(const std::string& s) { return xml_escape(s); }

// Coordinates: one decimal is finer than any screen shows the 720-unit width at, and keeps
// a long polyline short.
std::string coord(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

// A data range and its ticks, in axis units (for the percentile scale: -log10(1 - p)).
struct Axis {
  double lo = 0, hi = 1;
  std::vector<std::pair<double, std::string>> ticks;  // position, label
};

// The fewest decimals that print every multiple of `step` exactly (2.5 needs one, 0.25 two).
int decimals_for(double step) {
  for (int d = 0; d < 9; ++d) {
    const double scaled = step * std::pow(10.0, d);
    if (std::abs(scaled - std::round(scaled)) < 1e-6 * std::max(1.0, scaled)) return d;
  }
  return 9;
}

std::string tick_label(double v, int decimals) {
  if (std::abs(v) < 1e-12) v = 0;  // no "-0"
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Ticks at multiples of a round step (1, 2, 2.5 or 5 times a power of ten) chosen for about
// `target` intervals; the axis runs from the tick at or below lo to the tick at or above hi.
Axis linear_axis(double lo, double hi, int target) {
  if (!(hi > lo)) {  // one value: give it room around it
    const double pad = lo == 0 ? 1 : std::abs(lo) * 0.1;
    hi = lo + pad;
    if (lo != 0) lo -= pad;
  }
  const double raw = (hi - lo) / target;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / magnitude;
  const double step = (norm <= 1     ? 1
                       : norm <= 2   ? 2
                       : norm <= 2.5 ? 2.5
                       : norm <= 5   ? 5
                                     : 10) *
                      magnitude;
  const double first = std::floor(lo / step + 1e-9), last = std::ceil(hi / step - 1e-9);
  Axis a;
  a.lo = first * step;
  a.hi = last * step;
  const int decimals = decimals_for(step);
  // Counting by integer multiples, not by repeated addition, so 0.1 steps print as 0.3, not
  // 0.30000000000000004.
  for (double i = first; i <= last + 0.5; ++i)
    a.ticks.emplace_back(i * step, tick_label(i * step, decimals));
  return a;
}

double percentile_position(double p) {
  return -std::log10(1 - std::clamp(p, 0.0, kPercentileMax) / 100);
}

Axis percentile_axis(double max_position) {
  static constexpr std::pair<double, const char*> kTicks[] = {
      {0, "0%"},       {50, "50%"},       {90, "90%"},         {99, "99%"},
      {99.9, "99.9%"}, {99.99, "99.99%"}, {99.999, "99.999%"}, {99.9999, "99.9999%"}};
  Axis a;
  a.lo = 0;
  for (const auto& [p, label] : kTicks) {
    const double pos = percentile_position(p);
    a.ticks.emplace_back(pos, label);
    a.hi = pos;
    if (p >= 99 && pos >= max_position - 1e-9) break;
  }
  return a;
}

// Keeps, of each run of points in one pixel column, the first, lowest, highest and last: the
// line drawn through them covers the same pixels as the line through all of them.
std::vector<SvgPlot::Point> reduce(const std::vector<SvgPlot::Point>& pts) {
  std::vector<SvgPlot::Point> out;
  std::size_t i = 0;
  while (i < pts.size()) {
    const double column = std::floor(pts[i].x);
    std::size_t j = i, low = i, high = i;
    for (; j < pts.size() && std::floor(pts[j].x) == column; ++j) {
      if (pts[j].y < pts[low].y) low = j;
      if (pts[j].y > pts[high].y) high = j;
    }
    std::size_t keep[] = {i, low, high, j - 1};
    std::sort(std::begin(keep), std::end(keep));
    for (std::size_t k = 0; k < 4; ++k)
      if (k == 0 || keep[k] != keep[k - 1]) out.push_back(pts[keep[k]]);
    i = j;
  }
  return out;
}

bool finite(const SvgPlot::Point& p) { return std::isfinite(p.x) && std::isfinite(p.y); }

}  // namespace

SvgPlot::SvgPlot(std::string title, std::string x_label, std::string y_label)
    : title_(std::move(title)), x_label_(std::move(x_label)), y_label_(std::move(y_label)) {}

SvgPlot& SvgPlot::id(std::string id) {
  id_ = std::move(id);
  return *this;
}

SvgPlot& SvgPlot::x_scale(XScale scale) {
  x_scale_ = scale;
  return *this;
}

SvgPlot& SvgPlot::add(Series series) {
  series_.push_back(std::move(series));
  return *this;
}

std::string SvgPlot::render() const {
  const bool percentile = x_scale_ == XScale::Percentile;
  auto x_of = [&](double x) { return percentile ? percentile_position(x) : x; };

  // Data ranges over every finite point of every series.
  bool any = false;
  double x_lo = 0, x_hi = 0, y_lo = 0, y_hi = 0;
  for (const auto& s : series_)
    for (const auto& p : s.points) {
      if (!finite(p)) continue;
      const double x = x_of(p.x);
      if (!any) {
        x_lo = x_hi = x;
        y_lo = y_hi = p.y;
        any = true;
      }
      x_lo = std::min(x_lo, x);
      x_hi = std::max(x_hi, x);
      y_lo = std::min(y_lo, p.y);
      y_hi = std::max(y_hi, p.y);
    }
  const Axis ax = percentile ? percentile_axis(any ? x_hi : 0)
                             : linear_axis(any ? x_lo : 0, any ? x_hi : 1, kLinearTicks);
  const Axis ay = linear_axis(std::min(0.0, y_lo), any ? y_hi : 1, 5);

  // Legend entries flow left to right and wrap; each row past the first makes the drawing taller,
  // so the plot area keeps its size however many series there are.
  struct Entry {
    double x, y;
  };
  std::vector<Entry> entries;
  double ex = kLeft, rows = series_.empty() ? 0 : 1;
  for (const auto& s : series_) {
    const double w = 30 + 6.5 * static_cast<double>(s.name.size()) + 16;
    if (ex + w > kWidth - kRight && ex > kLeft) {
      ex = kLeft;
      ++rows;
    }
    entries.push_back({ex, kTitleHeight + rows * kLegendRow});
    ex += w;
  }
  const double top = kTitleHeight + rows * kLegendRow + 12;
  const double height = kHeight + std::max(0.0, rows - 1) * kLegendRow;
  const double plot_h = height - top - kBottom;
  auto px = [&](double x) { return kLeft + (x - ax.lo) / (ax.hi - ax.lo) * kPlotWidth; };
  auto py = [&](double y) { return top + plot_h - (y - ay.lo) / (ay.hi - ay.lo) * plot_h; };

  std::string o;
  o += "<svg";
  if (!id_.empty()) o += " id=\"" + esc(id_) + "\"";
  o += " class=\"plot\" viewBox=\"0 0 " + coord(kWidth) + " " + coord(height) +
       "\" role=\"img\" aria-label=\"" + esc(title_) + "\" font-family=\"sans-serif\">\n";
  o += "<title>" + esc(title_) + "</title>\n";
  o += "<rect x=\"" + coord(kLeft) + "\" y=\"" + coord(top) + "\" width=\"" + coord(kPlotWidth) +
       "\" height=\"" + coord(plot_h) + "\" fill=\"#fff\" stroke=\"#bbb\"/>\n";

  // Grid and tick labels.
  o += "<g class=\"grid\" stroke=\"#e4e4e4\" stroke-width=\"1\">";
  for (const auto& [pos, label] : ax.ticks)
    o += "<line x1=\"" + coord(px(pos)) + "\" y1=\"" + coord(top) + "\" x2=\"" + coord(px(pos)) +
         "\" y2=\"" + coord(top + plot_h) + "\"/>";
  for (const auto& [pos, label] : ay.ticks)
    o += "<line x1=\"" + coord(kLeft) + "\" y1=\"" + coord(py(pos)) + "\" x2=\"" +
         coord(kLeft + kPlotWidth) + "\" y2=\"" + coord(py(pos)) + "\"/>";
  o += "</g>\n<g class=\"ticks\" font-size=\"11\" fill=\"#444\">";
  for (const auto& [pos, label] : ax.ticks)
    o += "<text x=\"" + coord(px(pos)) + "\" y=\"" + coord(top + plot_h + 16) +
         "\" text-anchor=\"middle\">" + esc(label) + "</text>";
  for (const auto& [pos, label] : ay.ticks)
    o += "<text x=\"" + coord(kLeft - 6) + "\" y=\"" + coord(py(pos) + 4) +
         "\" text-anchor=\"end\">" + esc(label) + "</text>";
  o += "</g>\n";

  // Titles.
  o += "<text x=\"" + coord(kLeft) + "\" y=\"16\" font-size=\"14\" font-weight=\"bold\">" +
       esc(title_) + "</text>\n";
  o += "<text x=\"" + coord(kLeft + kPlotWidth / 2) + "\" y=\"" + coord(height - 8) +
       "\" font-size=\"12\" text-anchor=\"middle\" fill=\"#333\">" + esc(x_label_) + "</text>\n";
  const double mid_y = top + plot_h / 2;
  o += "<text x=\"16\" y=\"" + coord(mid_y) +
       "\" font-size=\"12\" text-anchor=\"middle\" fill=\"#333\" "
       "transform=\"rotate(-90 16 " +
       coord(mid_y) + ")\">" + esc(y_label_) + "</text>\n";
  if (!any)
    o += "<text x=\"" + coord(kLeft + kPlotWidth / 2) + "\" y=\"" + coord(mid_y) +
         "\" font-size=\"14\" text-anchor=\"middle\" fill=\"#888\">no data</text>\n";

  // Legend.
  o += "<g class=\"legend\" font-size=\"12\">";
  for (std::size_t i = 0; i < series_.size(); ++i) {
    const auto& s = series_[i];
    const auto& e = entries[i];
    o += "<line x1=\"" + coord(e.x) + "\" y1=\"" + coord(e.y - 4) + "\" x2=\"" + coord(e.x + 24) +
         "\" y2=\"" + coord(e.y - 4) + "\" stroke=\"" + esc(s.colour) + "\" stroke-width=\"2.5\"" +
         (s.dashed ? " stroke-dasharray=\"6 3\"" : "") + "/>";
    o += "<text x=\"" + coord(e.x + 30) + "\" y=\"" + coord(e.y) + "\">" + esc(s.name) + "</text>";
  }
  o += "</g>\n";

  // Series: one polyline per run of finite points.
  for (const auto& s : series_) {
    std::vector<std::vector<Point>> runs(1);
    std::size_t finite_points = 0;
    for (const auto& p : s.points) {
      if (!finite(p)) {
        if (!runs.back().empty()) runs.emplace_back();
        continue;
      }
      runs.back().push_back({px(x_of(p.x)), py(p.y)});
      ++finite_points;
    }
    o += "<g class=\"series\" fill=\"none\" stroke=\"" + esc(s.colour) +
         "\" stroke-width=\"2\" stroke-linejoin=\"round\"" +
         (s.dashed ? " stroke-dasharray=\"6 3\"" : "") + ">";
    std::string markers;
    for (auto& run : runs) {
      if (run.size() > 4 * static_cast<std::size_t>(kPlotWidth) &&
          std::is_sorted(run.begin(), run.end(),
                         [](const Point& a, const Point& b) { return a.x < b.x; }))
        run = reduce(run);
      if (run.size() >= 2) {
        o += "<polyline points=\"";
        for (std::size_t i = 0; i < run.size(); ++i) {
          if (i > 0) o += ' ';
          o += coord(run[i].x) + "," + coord(run[i].y);
        }
        o += "\"/>";
      }
      // A lone point has no line to show it, so it always gets a marker.
      if (run.size() == 1 || finite_points <= kMarkersUpTo)
        for (const auto& p : run)
          markers += "<circle cx=\"" + coord(p.x) + "\" cy=\"" + coord(p.y) + "\" r=\"2.5\"/>";
    }
    o += "</g>";
    if (!markers.empty()) o += "<g fill=\"" + esc(s.colour) + "\">" + markers + "</g>";
    o += "\n";
  }
  o += "</svg>";
  return o;
}

}  // namespace reprise::report
