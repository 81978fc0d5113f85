#pragma once
// SvgPlot: a line plot rendered as one inline <svg> element, for the HTML reports (internal).
//
// In: a title, axis labels, and named series of (x, y) points, each with its own colour and a
// legend entry. Out: an <svg> string with a viewBox and no fixed size, so the page's CSS scales
// it. Both axes get "nice" round ticks (1, 2, 2.5 or 5 times a power of ten) enclosing the data;
// y starts at 0 unless the data goes below it. All text is escaped.
//
// Percentile x scale: x is a percentile in [0, 100) placed at -log10(1 - x/100), so p90, p99,
// p99.9 and p99.99 are equally spaced and the tail, where latency problems live, gets as much
// room as the body. Ticks run from 0 to the first of 99, 99.9, 99.99, ... that covers the data.
// Values of 100 or more are drawn at 99.9999 (the scale has no place for 100).
//
// A point with a non-finite coordinate breaks its series' line: a second with no responses has
// no p99, and joining its neighbours would invent one. A series whose points are in x order and
// outnumber the plot's pixel columns several times over is reduced per column to the first,
// lowest, highest and last point, so a day-long timeline stays small and its spikes survive.
// Series of a few points also get a marker on each point.

#include <string>
#include <vector>

namespace reprise::report {

class SvgPlot {
 public:
  enum class XScale { Linear, Percentile };

  struct Point {
    double x = 0, y = 0;
  };

  struct Series {
    std::string name;    // the legend entry
    std::string colour;  // a CSS colour: "#1f5fbf"
    std::vector<Point> points;
    bool dashed = false;
  };

  SvgPlot(std::string title, std::string x_label, std::string y_label);

  // The id attribute of the <svg> element (none when empty).
  SvgPlot& id(std::string id);
  SvgPlot& x_scale(XScale scale);
  SvgPlot& add(Series series);

  std::string render() const;

 private:
  std::string title_, x_label_, y_label_, id_;
  XScale x_scale_ = XScale::Linear;
  std::vector<Series> series_;
};

}  // namespace reprise::report
