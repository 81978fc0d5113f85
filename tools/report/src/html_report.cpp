#include "reprise/report/html_report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <set>
#include <string_view>
#include <utility>

#include "reprise/report/junit.hpp"  // xml_escape
#include "svg_plot.hpp"

// The pages are built as strings, section by section. Every piece of text that came from a run
// file or a response (routes, targets, paths, end reasons, example values) goes through h(),
// which also repairs bytes HTML cannot carry; numbers are formatted into text that needs no
// escaping. Elements tests and readers look for carry ids: gate, summary, latency-plot, timeline
// (timeline-rate, timeline-latency), routes, deltas, status-changes, error-changes, fields,
// noise, warnings.

namespace reprise::report {
namespace {

using replay::Histogram;
using replay::IntervalStats;

// Base and "the run" are blue, the candidate orange: the pair stays readable for the common
// forms of colour blindness. Dashed lines are the secondary curve of the same side.
constexpr const char* kBlue = "#1f5fbf";
constexpr const char* kOrange = "#d9660b";
constexpr const char* kRed = "#c62828";
constexpr const char* kPurple = "#7b3fa6";
constexpr const char* kGrey = "#8a8a8a";
constexpr const char* kDash = "&ndash;";

// The points of the latency-by-percentile curves: dense where the curve usually bends.
constexpr double kCurvePercentiles[] = {0,  10, 20, 30,   40, 50,   60,   70,   75,    80,
                                        85, 90, 95, 97.5, 99, 99.5, 99.7, 99.9, 99.95, 99.99};
// The rows of the percentile tables (0.999 is p99.9).
constexpr double kTablePercentiles[] = {50, 90, 95, 99, 99.9, 99.99};

// ---- text ------------------------------------------------------------------------------------

// Text for HTML: response values need the same repair as JUnit's XML (invalid UTF-8, control
// characters), so one function does both.
std::string h(std::string_view s) { return xml_escape(s); }

// h() of at most `max` bytes of s, cut at a character boundary; the cut is shown.
std::string h_short(std::string_view s, std::size_t max = 200) {
  if (s.size() <= max) return h(s);
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;
  return h(s.substr(0, cut)) + "&hellip; <span class=\"muted\">(" + std::to_string(s.size()) +
         " bytes)</span>";
}

std::string fixed(double v, int decimals) {
  if (!std::isfinite(v)) return kDash;
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// Three significant digits, the precision the histograms have (about 1.6 %).
std::string three_digits(double v) { return fixed(v, v < 10 ? 2 : v < 100 ? 1 : 0); }

std::string count(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string duration(std::int64_t ns) {
  const double v = static_cast<double>(ns);
  if (ns < 1000) return std::to_string(ns) + " ns";
  if (ns < 1'000'000) return three_digits(v / 1e3) + " µs";
  if (ns < 1'000'000'000) return three_digits(v / 1e6) + " ms";
  return three_digits(v / 1e9) + " s";
}

// A histogram value, or a dash when nothing was recorded (0 would read as "instant").
std::string at(const Histogram& hist, double p) {
  return hist.empty() ? kDash : duration(hist.percentile(p));
}

std::string span(double seconds) {
  if (seconds < 120) return fixed(seconds, 1) + " s";
  const auto s = static_cast<std::int64_t>(std::llround(seconds));
  char buf[64];
  if (s < 7200)
    std::snprintf(buf, sizeof buf, "%lld min %02lld s", static_cast<long long>(s / 60),
                  static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld h %02lld min", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60));
  return buf;
}

std::string share(std::uint64_t part, std::uint64_t whole) {
  if (whole == 0) return kDash;
  const double pct = 100.0 * static_cast<double>(part) / static_cast<double>(whole);
  return fixed(pct, part > 0 && pct < 0.1 ? 3 : 2) + "%";
}

std::string count_share(std::uint64_t part, std::uint64_t whole) {
  return count(part) + " <span class=\"muted\">(" + share(part, whole) + ")</span>";
}

std::string signed_percent(double change) {
  if (std::isinf(change)) return change > 0 ? "+&infin;" : "&minus;&infin;";
  if (std::isnan(change)) return kDash;
  return (change >= 0 ? "+" : "") + fixed(100 * change, 1) + "%";
}

std::string utc(std::int64_t unix_ns) {
  if (unix_ns <= 0) return kDash;
  const std::time_t t = static_cast<std::time_t>(unix_ns / 1'000'000'000);
  std::tm tm{};
  if (::gmtime_r(&t, &tm) == nullptr) return kDash;
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &tm);
  return buf;
}

// "p99.9" for 0.999.
std::string percentile_name(double p) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "p%g", 100 * p);
  return buf;
}

std::string status_name(std::uint16_t status) {
  return status == 0 ? "no response" : std::to_string(status);
}

const char* direction_class(int direction) {
  return direction > 0 ? "worse" : direction < 0 ? "better" : "same";
}

// ---- page ------------------------------------------------------------------------------------

constexpr const char* kStyle = R"(
:root { color-scheme: light; }
body { margin: 0; background: #f5f6f8; color: #1d1f23;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 12px 24px 48px; }
h1 { font-size: 22px; margin: 10px 0 6px; }
h2 { font-size: 17px; margin: 26px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #d6dae0; }
h3 { font-size: 14px; margin: 14px 0 4px; }
p { margin: 6px 0; }
table { border-collapse: collapse; background: #fff; margin: 6px 0 12px; }
th, td { border: 1px solid #dde1e6; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv th { min-width: 11em; }
.scroll { overflow-x: auto; }
.plots { display: flex; flex-wrap: wrap; gap: 12px; }
svg.plot { flex: 1 1 520px; width: 100%; max-width: 720px; height: auto; background: #fff;
  border: 1px solid #dde1e6; }
code { font-family: ui-monospace, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace;
  font-size: 12.5px;
  overflow-wrap: anywhere; }
.muted { color: #6b7078; }
.bad { color: #a40000; font-weight: 600; }
td.worse { background: #fdeaea; color: #a40000; }
td.better { background: #e5f4e9; color: #15662e; }
tr.noise td { background: #f4f4f4; color: #6b7078; }
.tag { display: inline-block; padding: 0 6px; border-radius: 3px; font-size: 12px;
  font-weight: 600; }
.tag.noise { background: #e2e2e2; color: #4a4a4a; }
.tag.diff, .tag.fail { background: #fbdcdc; color: #a40000; }
.tag.pass { background: #dcf1e2; color: #15662e; }
.verdict { display: inline-block; padding: 6px 16px; border-radius: 6px; font-size: 22px;
  font-weight: 700; }
.verdict.pass { background: #dcf1e2; color: #15662e; }
.verdict.fail { background: #fbdcdc; color: #a40000; }
.verdict.none { background: #e8e8e8; color: #4a4a4a; }
ul.rules { list-style: none; padding-left: 0; }
ul.rules > li { margin: 6px 0; }
ul.findings { margin: 2px 0 0; }
ul.examples { margin: 0; padding-left: 16px; font-size: 12.5px; }
.val { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 12.5px;
  overflow-wrap: anywhere; }
)";

void open_page(std::string& o, const std::string& title) {
  o += "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
       "<meta name=\"generator\" content=\"reprise\">\n<title>";
  o += h(title);
  o += "</title>\n<style>";
  o += kStyle;
  o += "</style>\n</head>\n<body>\n<main>\n";
}

void close_page(std::string& o) { o += "</main>\n</body>\n</html>\n"; }

void warnings_section(std::string& o, const std::vector<std::string>& warnings) {
  o += "<section id=\"warnings\">\n<h2>Warnings</h2>\n";
  if (warnings.empty()) {
    o += "<p class=\"muted\">None.</p>\n";
  } else {
    o += "<ul>\n";
    for (const auto& w : warnings) o += "<li>" + h(w) + "</li>\n";
    o += "</ul>\n";
  }
  o += "</section>\n";
}

// ---- summary ---------------------------------------------------------------------------------

// The summary of one test as label / value rows; the compare page puts two side by side.
std::vector<std::pair<std::string, std::string>> summary_rows(const Report& r) {
  const auto& s = r.overall.stats;
  std::string files, targets;
  std::set<std::string> seen_targets;
  for (const auto& f : r.files) {
    if (!files.empty()) files += "<br>";
    files += "<code>" + h(f.path) + "</code>";
    if (f.shard_count > 1)
      files += " <span class=\"muted\">shard " + std::to_string(f.shard_index + 1) + "/" +
               std::to_string(f.shard_count) + "</span>";
    if (!f.target.empty() && seen_targets.insert(f.target).second)
      targets += (targets.empty() ? "" : "<br>") + h(f.target);
  }
  std::string trace;
  if (!r.files.empty()) trace = "<code>" + h(r.files.front().trace_path) + "</code>";
  const bool completed = r.end_reason.rfind("completed", 0) == 0;  // also "completed (duration reached)"
  const std::string end = completed ? h(r.end_reason)
                                    : "<span class=\"bad\">" +
                                          (r.end_reason.empty() ? "unknown" : h(r.end_reason)) +
                                          "</span>";
  auto flagged = [](std::uint64_t n, std::uint64_t whole) {
    return n > 0 ? "<span class=\"bad\">" + count_share(n, whole) + "</span>"
                 : count_share(n, whole);
  };
  return {
      {"Files", files.empty() ? kDash : files},
      {"Target", targets.empty() ? kDash : targets},
      {"Trace", trace.empty() ? kDash : trace},
      {"End reason", end},
      {"Started", utc(r.epoch_unix_ns + r.first_ns)},
      {"Duration", span(r.duration_s())},
      {"Requests", count(s.outcomes)},
      {"Sent", count_share(s.sent, s.outcomes)},
      {"Achieved rate", fixed(r.achieved_rate(), 1) + " /s"},
      {"Errors (transport and 5xx)", flagged(s.failed, s.outcomes)},
      {"Shed", flagged(s.errors[static_cast<std::size_t>(replay::OutcomeError::Shed)], s.outcomes)},
      {"Late (sent over " + duration(r.late_threshold_ns) + " late)",
       flagged(r.overall.late, s.sent)},
      {"Responses timed", count(s.corrected.count())},
      {"Latency p50", at(s.corrected, 50)},
      {"Latency p99", at(s.corrected, 99)},
      {"Latency max", at(s.corrected, 100)},
      {"Bytes sent / received", count(s.bytes_sent) + " / " + count(s.bytes_received)},
  };
}

// ---- plots -----------------------------------------------------------------------------------

std::vector<SvgPlot::Point> percentile_curve(const Histogram& hist) {
  std::vector<SvgPlot::Point> points;
  if (hist.empty()) return points;
  for (double p : kCurvePercentiles)
    points.push_back({p, static_cast<double>(hist.percentile(p)) / 1e6});
  return points;
}

// The timeline's x: time since the timeline's first second, in a unit that keeps tick labels
// short (a day in seconds would be ticks like 80000).
struct TimeUnit {
  double seconds;
  const char* axis_label;
};

TimeUnit time_unit(std::size_t longest_timeline) {
  if (longest_timeline > 10 * 3600) return {3600, "time (h)"};
  if (longest_timeline > 20 * 60) return {60, "time (min)"};
  return {1, "time (s)"};
}

template <typename Value>
std::vector<SvgPlot::Point> timeline_series(const std::vector<SecondStats>& seconds, TimeUnit unit,
                                            Value value) {
  std::vector<SvgPlot::Point> points;
  if (seconds.empty()) return points;
  const std::int64_t t0 = seconds.front().start_ns;
  for (const auto& s : seconds)
    points.push_back({static_cast<double>(s.start_ns - t0) / 1e9 / unit.seconds, value(s)});
  return points;
}

double per_second(std::uint64_t n) { return static_cast<double>(n); }

// A second with no timed response has no percentile: NaN breaks the line there.
double latency_ms(const SecondStats& s, std::int64_t ns) {
  return s.responses > 0 ? static_cast<double>(ns) / 1e6 : std::nan("");
}

struct Side {
  std::string name;  // "" on the report page
  const Report* report;
  const char* colour;
};

std::string label(const Side& side, const std::string& what) {
  return side.name.empty() ? what : side.name + " " + what;
}

std::string latency_plot(const std::vector<Side>& sides, bool with_service) {
  SvgPlot plot("Latency by percentile", "percentile", "latency (ms)");
  plot.id("latency-plot").x_scale(SvgPlot::XScale::Percentile);
  for (const auto& side : sides) {
    const auto& stats = side.report->overall.stats;
    plot.add({label(side, "corrected"), side.colour, percentile_curve(stats.corrected), false});
    if (with_service)
      plot.add(
          {label(side, "service (uncorrected)"), kOrange, percentile_curve(stats.service), true});
  }
  return plot.render();
}

TimeUnit time_unit(const std::vector<Side>& sides) {
  std::size_t longest = 0;
  for (const auto& side : sides) longest = std::max(longest, side.report->seconds.size());
  return time_unit(longest);
}

std::string rate_plot(const std::vector<Side>& sides) {
  const TimeUnit unit = time_unit(sides);
  SvgPlot plot("Outcomes per second", unit.axis_label, "per second");
  plot.id("timeline-rate");
  const bool single = sides.size() == 1;
  for (const auto& side : sides) {
    const auto& sec = side.report->seconds;
    plot.add(
        {label(side, "requests/s"), side.colour,
         timeline_series(sec, unit, [](const SecondStats& s) { return per_second(s.outcomes); }),
         false});
    plot.add({label(side, "failed/s"), single ? kRed : side.colour,
              timeline_series(sec, unit, [](const SecondStats& s) { return per_second(s.failed); }),
              !single});
    const bool any_shed =
        std::any_of(sec.begin(), sec.end(), [](const SecondStats& s) { return s.shed > 0; });
    if (any_shed && single)
      plot.add({label(side, "shed/s"), kGrey,
                timeline_series(sec, unit, [](const SecondStats& s) { return per_second(s.shed); }),
                true});
  }
  return plot.render();
}

std::string latency_timeline_plot(const std::vector<Side>& sides) {
  const TimeUnit unit = time_unit(sides);
  SvgPlot plot("Latency per second (corrected)", unit.axis_label, "latency (ms)");
  plot.id("timeline-latency");
  const bool single = sides.size() == 1;
  for (const auto& side : sides) {
    const auto& sec = side.report->seconds;
    plot.add(
        {label(side, "p99"), single ? kPurple : side.colour,
         timeline_series(sec, unit, [](const SecondStats& s) { return latency_ms(s, s.p99_ns); }),
         false});
    plot.add(
        {label(side, "p50"), side.colour,
         timeline_series(sec, unit, [](const SecondStats& s) { return latency_ms(s, s.p50_ns); }),
         !single});
    if (single)
      plot.add(
          {label(side, "max"), kGrey,
           timeline_series(sec, unit, [](const SecondStats& s) { return latency_ms(s, s.max_ns); }),
           true});
  }
  return plot.render();
}

void timeline_section(std::string& o, const std::vector<Side>& sides) {
  o += "<section id=\"timeline\">\n<h2>Timeline</h2>\n<p class=\"muted\">By the second each "
       "request ended. Latency lines break at seconds without a timed response.</p>\n"
       "<div class=\"plots\">\n";
  o += rate_plot(sides) + "\n" + latency_timeline_plot(sides) + "\n</div>\n</section>\n";
}

// ---- tables ----------------------------------------------------------------------------------

const char* const kStatusClassNames[] = {"no response", "1xx", "2xx", "3xx", "4xx", "5xx"};

// Status classes and error kinds, one count column per side.
void outcome_tables(std::string& o, const std::vector<Side>& sides) {
  o += "<section id=\"status\">\n<h2>Status classes and errors</h2>\n<div class=\"plots\">\n";
  auto header = [&](const char* id, const char* first) {
    o += "<table id=\"" + std::string(id) + "\"><tr><th>" + first + "</th>";
    for (const auto& side : sides) o += "<th class=\"n\">" + h(label(side, "count")) + "</th>";
    o += "</tr>\n";
  };
  o += "<div>";
  header("status-classes", "Status class");
  for (std::size_t i = 0; i < 6; ++i) {
    o += "<tr><td>" + std::string(kStatusClassNames[i]) + "</td>";
    for (const auto& side : sides) {
      const auto& st = side.report->overall.stats;
      o += "<td class=\"n\">" + count_share(st.status_classes[i], st.outcomes) + "</td>";
    }
    o += "</tr>\n";
  }
  o += "</table></div>\n<div>";
  header("errors", "Error kind");
  for (std::size_t i = 0; i < replay::kOutcomeErrorKinds; ++i) {
    o += "<tr><td>" + h(error_name(static_cast<replay::OutcomeError>(i))) + "</td>";
    for (const auto& side : sides) {
      const auto& st = side.report->overall.stats;
      const std::uint64_t n = st.errors[i];
      const std::string cell = count_share(n, st.outcomes);
      o += "<td class=\"n\">" +
           (i > 0 && n > 0 ? "<span class=\"bad\">" + cell + "</span>" : cell) + "</td>";
    }
    o += "</tr>\n";
  }
  o += "</table></div>\n</div>\n</section>\n";
}

void percentile_table(std::string& o, const IntervalStats& s) {
  o += "<table id=\"percentiles\"><tr><th></th><th class=\"n\">corrected</th><th class=\"n\">"
       "service</th><th class=\"n\">lateness</th></tr>\n";
  auto row = [&](const std::string& name, auto value) {
    o += "<tr><th>" + name + "</th><td class=\"n\">" + value(s.corrected) +
         "</td><td class=\"n\">" + value(s.service) + "</td><td class=\"n\">" + value(s.lateness) +
         "</td></tr>\n";
  };
  for (double p : kTablePercentiles)
    row(percentile_name(p / 100), [p](const Histogram& hist) { return at(hist, p); });
  row("max", [](const Histogram& hist) { return at(hist, 100); });
  row("mean", [](const Histogram& hist) {
    return hist.empty() ? std::string(kDash) : duration(std::llround(hist.mean()));
  });
  row("count", [](const Histogram& hist) { return count(hist.count()); });
  o += "</table>\n";
}

void routes_table(std::string& o, const Report& r) {
  o += "<section id=\"routes\">\n<h2>Routes</h2>\n";
  if (r.routes.empty()) {
    o += "<p class=\"muted\">No requests.</p>\n</section>\n";
    return;
  }
  o += "<p class=\"muted\">Latency is corrected (from the intended send time) unless marked "
       "service (from the actual send). Most requests first.</p>\n<div class=\"scroll\"><table "
       "id=\"routes-table\">\n<tr><th>Route</th><th class=\"n\">Requests</th><th class=\"n\">Rate"
       "</th><th class=\"n\">Errors</th><th class=\"n\">p50</th><th class=\"n\">p90</th><th "
       "class=\"n\">p95</th><th class=\"n\">p99</th><th class=\"n\">p99.9</th><th class=\"n\">max"
       "</th><th class=\"n\">service p99</th><th class=\"n\">Late</th></tr>\n";
  const double d = r.duration_s();
  for (const auto& route : r.routes) {
    const auto& s = route.tally.stats;
    const std::string errors = share(s.failed, s.outcomes);
    o += "<tr><td><code>" + h(route.route) + "</code></td><td class=\"n\">" + count(s.outcomes) +
         "</td><td class=\"n\">" +
         (d > 0 ? fixed(static_cast<double>(s.outcomes) / d, 1) + " /s" : kDash) +
         "</td><td class=\"n\">" +
         (s.failed > 0 ? "<span class=\"bad\">" + errors + "</span>" : errors) + "</td>";
    for (double p : {50.0, 90.0, 95.0, 99.0, 99.9, 100.0})
      o += "<td class=\"n\">" + at(s.corrected, p) + "</td>";
    o += "<td class=\"n\">" + at(s.service, 99) + "</td><td class=\"n\">" +
         count(route.tally.late) + "</td></tr>\n";
  }
  o += "</table></div>\n";
  if (r.routes_folded > 0)
    o += "<p class=\"muted\">" + count(r.routes_folded) + " requests are counted under <code>" +
         h(RouteNamer::kOther) + "</code>.</p>\n";
  o += "</section>\n";
}

// ---- compare ---------------------------------------------------------------------------------

void gate_section(std::string& o, const std::vector<GateResult>& gate) {
  const auto failed = static_cast<std::size_t>(
      std::count_if(gate.begin(), gate.end(), [](const GateResult& g) { return g.failed; }));
  const char* verdict = gate.empty() ? "none" : failed > 0 ? "fail" : "pass";
  o += "<section id=\"gate\" class=\"" + std::string(verdict) + "\">\n<h2>Release gate</h2>\n<p>";
  o += "<span class=\"verdict " + std::string(verdict) + "\">" +
       (gate.empty() ? "NO RULES"
        : failed > 0 ? "FAIL"
                     : "PASS") +
       "</span> ";
  if (gate.empty()) {
    o += "<span class=\"muted\">No --fail-on rules were given, so nothing can fail.</span></p>\n";
  } else {
    o += std::to_string(failed) + " of " + std::to_string(gate.size()) + " rules failed.</p>\n";
    o += "<ul class=\"rules\">\n";
    for (const auto& g : gate) {
      o += "<li class=\"rule " + std::string(g.failed ? "fail" : "pass") + "\"><span class=\"tag " +
           (g.failed ? "fail\">FAIL" : "pass\">PASS") + "</span> <code>" + h(g.rule) + "</code>";
      if (!g.summary.empty()) o += " &mdash; " + h(g.summary);
      if (!g.findings.empty()) {
        o += "\n<ul class=\"findings\">\n";
        for (const auto& f : g.findings) o += "<li>" + h(f) + "</li>\n";
        o += "</ul>";
      }
      o += "</li>\n";
    }
    o += "</ul>\n";
  }
  o += "</section>\n";
}

void compare_summary(std::string& o, const Comparison& c) {
  const auto base = summary_rows(c.base), candidate = summary_rows(c.candidate);
  o += "<section id=\"summary\">\n<h2>Base and candidate</h2>\n<div class=\"scroll\">"
       "<table class=\"kv\"><tr><th></th><th>Base</th><th>Candidate</th></tr>\n";
  for (std::size_t i = 0; i < base.size() && i < candidate.size(); ++i)
    o += "<tr><th>" + h(base[i].first) + "</th><td>" + base[i].second + "</td><td>" +
         candidate[i].second + "</td></tr>\n";
  o += "</table></div>\n<h3>Pairs</h3>\n<table class=\"kv\" id=\"pairs\">\n";
  auto row = [&](const std::string& name, const std::string& value) {
    o += "<tr><th>" + name + "</th><td class=\"n\">" + value + "</td></tr>\n";
  };
  row("Paired requests", count(c.pairs));
  row("Base unpaired", count(c.base_unpaired));
  row("Candidate unpaired", count(c.candidate_unpaired));
  row("Noise pairs", count(c.noise_pairs));
  row("Status changes (not noise)", count_share(c.status_changes, c.pairs));
  row("Error changes", count_share(c.error_changes, c.pairs));
  row("Bodies compared", count(c.bodies_compared));
  row("Bodies differing (not noise)", count_share(c.bodies_differing, c.bodies_compared));
  row("Bodies compared by digest only", count(c.bodies_digest_only));
  row("Latency samples dropped (reservoir)", count(c.latency_samples_dropped));
  o += "</table>\n</section>\n";
}

// A percentile of a small sample (p99.9 of 150 values) has no upper confidence bound.
std::string unbounded_note(const QuantileDelta& d) {
  if (d.base.bounded && d.candidate.bounded) return "";
  const char* which = !d.base.bounded && !d.candidate.bounded ? "either side"
                      : !d.base.bounded                       ? "the base"
                                                              : "the candidate";
  return std::string("<br><span class=\"muted\">too few values to bound ") + which +
         " from above</span>";
}

void delta_rows(std::string& o, const RouteComparison& rc) {
  const std::string route = "<td rowspan=\"" +
                            std::to_string(std::max<std::size_t>(1, rc.latency.size())) +
                            "\"><code>" + h(rc.route) + "</code></td>";
  if (rc.latency.empty()) {
    o += "<tr>" + route + "<td colspan=\"6\" class=\"muted\">no latency compared</td></tr>\n";
    return;
  }
  for (std::size_t i = 0; i < rc.latency.size(); ++i) {
    const auto& d = rc.latency[i];
    const char* cls = direction_class(d.direction);
    o += "<tr class=\"" + std::string(cls) + "\">" + (i == 0 ? route : "") + "<td>" +
         percentile_name(d.p) + "</td><td class=\"n\">" + duration(d.base.value) +
         "</td><td class=\"n\">" + duration(d.candidate.value) + "</td><td class=\"n " + cls +
         "\">" + signed_percent(d.change) + "</td><td class=\"n " + cls + "\">[" +
         signed_percent(d.change_low) + ", " + signed_percent(d.change_high) +
         "]</td><td class=\"n\">" + count(d.base.n) + " / " + count(d.candidate.n) +
         unbounded_note(d) + "</td></tr>\n";
  }
}

void deltas_section(std::string& o, const Comparison& c) {
  o += "<section id=\"deltas\">\n<h2>Latency changes by route</h2>\n<p class=\"muted\">Corrected "
       "latency. Interval: the changes allowed by the " +
       fixed(100 * kPairedConfidence, 1) +
       " % confidence intervals of both sides. Red: significantly slower, green: significantly "
       "faster (the intervals do not overlap, a test at about 5 %, and the change is not below "
       "the minimum worth calling).</p>\n<div class=\"scroll\"><table id=\"latency-deltas\">\n"
       "<tr><th>Route</th><th>Percentile</th><th class=\"n\">Base</th><th class=\"n\">Candidate"
       "</th><th class=\"n\">Change</th><th class=\"n\">Interval</th><th class=\"n\">Samples "
       "base / candidate</th></tr>\n";
  delta_rows(o, c.overall);
  for (const auto& rc : c.routes) delta_rows(o, rc);
  o += "</table></div>\n";

  o +=
      "<h3>Errors and behaviour by route</h3>\n<div class=\"scroll\"><table id=\"error-rates\">\n"
      "<tr><th>Route</th><th class=\"n\">Pairs</th><th class=\"n\">Base errors</th><th class=\"n\">"
      "Candidate errors</th><th class=\"n\">Change</th><th class=\"n\">Status changes</th><th "
      "class=\"n\">Bodies differing</th></tr>\n";
  auto row = [&](const RouteComparison& rc) {
    const auto& e = rc.errors;
    const char* cls = direction_class(e.direction());
    o += "<tr><td><code>" + h(rc.route) + "</code></td><td class=\"n\">" + count(rc.pairs) +
         "</td><td class=\"n\">" + count_share(e.base_failed, e.base_total) +
         "</td><td class=\"n\">" + count_share(e.candidate_failed, e.candidate_total) +
         "</td><td class=\"n " + cls + "\">" + (e.delta_pp() >= 0 ? "+" : "") +
         fixed(e.delta_pp(), 2) + " pp</td><td class=\"n\">" + count(rc.status_changes) +
         "</td><td class=\"n\">" + count_share(rc.bodies_differing, rc.bodies_compared) +
         "</td></tr>\n";
  };
  row(c.overall);
  for (const auto& rc : c.routes) row(rc);
  o += "</table></div>\n</section>\n";
}

std::string examples(const std::vector<Example>& list) {
  if (list.empty()) return "";
  std::string o = "<ul class=\"examples\">";
  for (const auto& e : list) {
    o += "<li><code>" + h_short(e.target, 160) + "</code> <span class=\"muted\">exchange " +
         std::to_string(e.exchange_id);
    if (e.clone > 0) o += ", clone " + std::to_string(e.clone);
    if (e.iteration > 0) o += ", iteration " + std::to_string(e.iteration);
    o += "</span><br><span class=\"val\">" + h_short(e.base) +
         "</span> &rarr; <span class=\"val\">" + h_short(e.candidate) + "</span></li>";
  }
  return o + "</ul>";
}

void status_changes_section(std::string& o, const Comparison& c) {
  o += "<section id=\"status-changes\">\n<h2>Status changes</h2>\n";
  if (c.statuses.empty()) {
    o += "<p class=\"muted\">No paired request changed its status.</p>\n</section>\n";
    return;
  }
  o += "<div class=\"scroll\"><table>\n<tr><th>Route</th><th>Base</th><th>Candidate</th><th "
       "class=\"n\">Pairs</th><th>Verdict</th><th>Examples</th></tr>\n";
  for (const auto& s : c.statuses) {
    o += std::string(s.noise ? "<tr class=\"noise\">" : "<tr>") + "<td><code>" + h(s.route) +
         "</code></td><td>" + status_name(s.from) + "</td><td>" + status_name(s.to) +
         "</td><td class=\"n\">" + count(s.count) + "</td><td>" +
         (s.noise ? "<span class=\"tag noise\">noise</span>"
                  : "<span class=\"tag diff\">change</span>") +
         "</td><td>" + examples(s.examples) + "</td></tr>\n";
  }
  o += "</table></div>\n</section>\n";
}

void error_changes_section(std::string& o, const Comparison& c) {
  o += "<section id=\"error-changes\">\n<h2>Error changes</h2>\n";
  if (c.errors.empty()) {
    o += "<p class=\"muted\">No paired request changed its error kind.</p>\n</section>\n";
    return;
  }
  o += "<div class=\"scroll\"><table>\n<tr><th>Route</th><th>Base</th><th>Candidate</th><th "
       "class=\"n\">Pairs</th><th>Examples</th></tr>\n";
  for (const auto& e : c.errors)
    o += "<tr><td><code>" + h(e.route) + "</code></td><td>" + h(e.from) + "</td><td>" + h(e.to) +
         "</td><td class=\"n\">" + count(e.count) + "</td><td>" + examples(e.examples) +
         "</td></tr>\n";
  o += "</table></div>\n</section>\n";
}

std::string diff_rate(std::uint64_t differing, std::uint64_t compared) {
  return count(differing) + " / " + count(compared) + " <span class=\"muted\">(" +
         share(differing, compared) + ")</span>";
}

void fields_section(std::string& o, const Comparison& c) {
  o += "<section id=\"fields\">\n<h2>Response body differences</h2>\n";
  if (c.fields.empty()) {
    o += "<p class=\"muted\">No body differences among " + count(c.bodies_compared) +
         " compared bodies.</p>\n</section>\n";
    return;
  }
  o += "<p class=\"muted\">A difference is noise when the noise samples show it about as often as "
       "the candidate does; noise rows are greyed and marked.</p>\n<div class=\"scroll\"><table>\n"
       "<tr><th>Route</th><th>Field</th><th class=\"n\">Candidate differs</th><th class=\"n\">"
       "Noise differs</th><th>Verdict</th><th>Examples (base &rarr; candidate)</th></tr>\n";
  for (const auto& f : c.fields) {
    const auto& n = f.count;
    o += std::string(n.noise ? "<tr class=\"noise\">" : "<tr>") + "<td><code>" + h(f.route) +
         "</code></td><td><code>" + h(f.path) + "</code></td><td class=\"n\">" +
         diff_rate(n.differing, n.compared) + "</td><td class=\"n\">" +
         (n.noise_compared > 0 ? diff_rate(n.noise_differing, n.noise_compared)
                               : std::string("<span class=\"muted\">no noise samples</span>")) +
         "</td><td>" +
         (n.noise ? "<span class=\"tag noise\">noise</span>"
                  : "<span class=\"tag diff\">difference</span>") +
         "</td><td>" + examples(f.examples) + "</td></tr>\n";
  }
  o += "</table></div>\n</section>\n";
}

void noise_section(std::string& o, const Comparison& c) {
  o += "<section id=\"noise\">\n<h2>Noise sources</h2>\n";
  if (c.noise_sources.empty()) {
    o += "<p class=\"muted\">None: without noise samples (clones, a second baseline or the "
         "trace's responses) no difference can be recognised as noise.</p>\n";
  } else {
    o += "<ul>\n";
    for (const auto& s : c.noise_sources) o += "<li>" + h(s) + "</li>\n";
    o += "</ul>\n<p>" + count(c.noise_pairs) + " noise pairs.</p>\n";
  }
  o += "</section>\n";
}

}  // namespace

std::string render_report_html(const Report& r) {
  std::string o;
  open_page(o, "reprise report: " + std::to_string(r.overall.stats.outcomes) + " requests");
  o += "<h1>reprise report</h1>\n";
  o += "<section id=\"summary\">\n<h2>Summary</h2>\n<table class=\"kv\">\n";
  for (const auto& [name, value] : summary_rows(r))
    o += "<tr><th>" + h(name) + "</th><td>" + value + "</td></tr>\n";
  o += "</table>\n</section>\n";
  warnings_section(o, r.warnings);

  const std::vector<Side> sides = {{"", &r, kBlue}};
  o += "<section id=\"latency\">\n<h2>Latency</h2>\n<p class=\"muted\">Corrected: from the "
       "intended send time, as a user waiting since then saw it. Service: from the actual send, "
       "which hides the generator's lateness.</p>\n<div class=\"plots\">\n";
  o += latency_plot(sides, true) + "\n<div>";
  percentile_table(o, r.overall.stats);
  o += "</div>\n</div>\n</section>\n";
  timeline_section(o, sides);
  outcome_tables(o, sides);
  routes_table(o, r);
  close_page(o);
  return o;
}

std::string render_compare_html(const Comparison& c, const std::vector<GateResult>& gate) {
  const bool failed =
      std::any_of(gate.begin(), gate.end(), [](const GateResult& g) { return g.failed; });
  std::string o;
  open_page(o, std::string("reprise compare: ") + (gate.empty() ? "no gate"
                                                   : failed     ? "FAIL"
                                                                : "PASS"));
  o += "<h1>reprise compare</h1>\n";
  gate_section(o, gate);
  compare_summary(o, c);

  warnings_section(o, compare_warnings(c));

  const std::vector<Side> sides = {{"base", &c.base, kBlue}, {"candidate", &c.candidate, kOrange}};
  o += "<section id=\"latency\">\n<h2>Latency</h2>\n<p class=\"muted\">Corrected latency (from "
       "the intended send time) of every timed response.</p>\n<div class=\"plots\">\n";
  o += latency_plot(sides, false) + "\n</div>\n</section>\n";
  timeline_section(o, sides);
  deltas_section(o, c);
  status_changes_section(o, c);
  error_changes_section(o, c);
  fields_section(o, c);
  noise_section(o, c);
  outcome_tables(o, sides);
  close_page(o);
  return o;
}

}  // namespace reprise::report
