#include "reprise/report/gate.hpp"

#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <optional>

#include "reprise/report/error.hpp"
#include "reprise/units.hpp"

namespace reprise::report {
namespace {

constexpr const char* kSyntax =
    "rules are p95>+10%, p99>+20ms, errors>+0.5pp, status_changes>0, error_changes>0, body_diffs>1%";

Error bad(std::string_view text, const std::string& why) {
  return fail(errc::bad_rule, "--fail-on", "'" + std::string(text) + "': " + why + " (" + kSyntax + ")");
}

std::string pct(double share) {
  char b[32];
  std::snprintf(b, sizeof b, "%+.1f%%", share * 100);
  return b;
}

std::string ms(std::int64_t ns) { return format_duration(ns); }

std::string percentile_name(double p) {
  char b[16];
  std::snprintf(b, sizeof b, "p%g", p * 100);
  return b;
}

// A plain decimal number, the whole text: "0.5", "99.9", "12". No sign, exponent, hex, space,
// "nan" or "inf" (a NaN threshold is never exceeded: the rule could not fail).
std::optional<double> parse_decimal(std::string_view v) {
  if (v.empty() || v.find_first_not_of("0123456789.") != std::string_view::npos) return std::nullopt;
  double out = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), out, std::chars_format::fixed);
  if (ec != std::errc() || end != v.data() + v.size() || !std::isfinite(out)) return std::nullopt;
  return out;
}

// A count threshold: "0", "12", or a share "1%".
bool parse_count(std::string_view v, GateRule& rule) {
  if (!v.empty() && v.back() == '%') {
    const auto share = parse_percent(v);
    if (!share) return false;
    rule.share = true;
    rule.threshold = *share;
    return true;
  }
  if (v.find('.') != std::string_view::npos) return false;
  const auto n = parse_decimal(v);
  if (!n) return false;
  rule.threshold = *n;
  return true;
}

}  // namespace

Result<GateRule> parse_gate_rule(std::string_view text) {
  GateRule rule;
  rule.text = std::string(text);
  const auto gt = text.find('>');
  if (gt == std::string_view::npos || gt == 0) return bad(text, "no METRIC>THRESHOLD");
  const std::string_view metric = text.substr(0, gt);
  std::string_view value = text.substr(gt + 1);

  if (metric == "status_changes" || metric == "error_changes" || metric == "body_diffs") {
    rule.metric = metric == "status_changes" ? GateRule::Metric::StatusChanges
                  : metric == "error_changes" ? GateRule::Metric::ErrorChanges
                                              : GateRule::Metric::BodyDiffs;
    if (!parse_count(value, rule)) return bad(text, "the threshold is a count (0) or a share (1%)");
    return rule;
  }
  if (value.empty() || value[0] != '+')
    return bad(text, "a change is given with its sign: +10%, +20ms, +0.5pp");
  value.remove_prefix(1);
  if (metric == "errors") {
    rule.metric = GateRule::Metric::Errors;
    if (value.size() < 3 || value.substr(value.size() - 2) != "pp")
      return bad(text, "the error rate changes in percentage points: errors>+0.5pp");
    const auto pp = parse_decimal(value.substr(0, value.size() - 2));
    if (!pp) return bad(text, "'" + std::string(value.substr(0, value.size() - 2)) + "' is not a number (0.5)");
    rule.threshold = *pp;
    return rule;
  }
  if (metric.size() >= 2 && metric[0] == 'p') {
    const auto parsed = parse_decimal(metric.substr(1));
    if (!parsed) return bad(text, "'" + std::string(metric) + "' is not a percentile (p50, p95, p99.9)");
    const double p = *parsed;
    if (p != 50 && p != 90 && p != 95 && p != 99 && p != 99.9)
      return bad(text, "the percentiles compared are p50, p90, p95, p99 and p99.9");
    rule.metric = GateRule::Metric::Latency;
    rule.percentile = p / 100;
    if (!value.empty() && value.back() == '%') {
      const auto share = parse_percent(value);
      if (!share) return bad(text, "'" + std::string(value) + "' is not a share");
      rule.relative = true;
      rule.threshold = *share;
    } else {
      // A bare number would read as seconds: "p95>+10" meant as 10 % would never fail.
      const bool has_unit = !value.empty() && std::isalpha(static_cast<unsigned char>(value.back()));
      const auto ns = parse_duration_ns(value);
      if (!ns || !has_unit)
        return bad(text, "'" + std::string(value) + "' is neither a share (10%) nor a duration with its unit (20ms, 1s)");
      rule.threshold = static_cast<double>(*ns);
    }
    return rule;
  }
  return bad(text, "unknown metric '" + std::string(metric) + "'");
}

namespace {

const QuantileDelta* delta_at(const RouteComparison& row, double p) {
  for (const auto& q : row.latency)
    if (std::abs(q.p - p) <= 1e-9) return &q;
  return nullptr;
}

// A latency rule on one row: the change must pass the threshold and be significant. A row the
// base has enough values for and the candidate none fails: the route went missing (a killed
// replay, a route the candidate no longer answers) and must not pass for want of numbers.
// `evaluated` becomes true when the row could show a rise.
void check_latency(const GateRule& rule, const RouteComparison& row, GateResult& out, double& worst,
                   bool& evaluated) {
  if (const QuantileDelta* found = delta_at(row, rule.percentile)) {
    const QuantileDelta& q = *found;
    if (q.missing) {
      out.findings.push_back(row.route + ": " + percentile_name(q.p) + " " + ms(q.base.value) +
                             " -> missing in candidate (no timed response, n=" + std::to_string(q.base.n) + "/0)");
      return;
    }
    evaluated = evaluated || q.rise_testable;
    const double change = rule.relative ? q.change : static_cast<double>(q.candidate.value - q.base.value);
    if (q.direction > 0) worst = std::max(worst, change);
    if (q.direction > 0 && change > rule.threshold) {
      out.findings.push_back(row.route + ": " + percentile_name(q.p) + " " + ms(q.base.value) + " -> " +
                             ms(q.candidate.value) + " (" + pct(q.change) + ", interval " +
                             pct(q.change_low) + ".." + pct(q.change_high) + ", n=" +
                             std::to_string(q.base.n) + "/" + std::to_string(q.candidate.n) + ")");
    }
  }
}

void check_errors(const GateRule& rule, const RouteComparison& row, GateResult& out, double& worst) {
  const double d = row.errors.delta_pp();
  worst = std::max(worst, d);
  if (row.errors.direction() > 0 && d > rule.threshold) {
    char b[160];
    std::snprintf(b, sizeof b, ": errors %.2f%% -> %.2f%% (%+.2fpp, %llu/%llu -> %llu/%llu)",
                  row.errors.base_rate() * 100, row.errors.candidate_rate() * 100, d,
                  static_cast<unsigned long long>(row.errors.base_failed),
                  static_cast<unsigned long long>(row.errors.base_total),
                  static_cast<unsigned long long>(row.errors.candidate_failed),
                  static_cast<unsigned long long>(row.errors.candidate_total));
    out.findings.push_back(row.route + b);
  }
}

}  // namespace

std::vector<GateResult> evaluate_gate(const std::vector<GateRule>& rules, const Comparison& c) {
  std::vector<GateResult> results;
  for (const auto& rule : rules) {
    GateResult r;
    r.rule = rule.text;
    char b[200];
    switch (rule.metric) {
      case GateRule::Metric::Latency:
      case GateRule::Metric::Errors: {
        double worst = -1e300;
        const bool latency = rule.metric == GateRule::Metric::Latency;
        bool evaluated = !latency && c.overall.errors.base_total > 0 && c.overall.errors.candidate_total > 0;
        auto check = [&](const RouteComparison& row) {
          if (latency) check_latency(rule, row, r, worst, evaluated);
          else check_errors(rule, row, r, worst);
        };
        check(c.overall);
        for (const auto& row : c.routes) check(row);
        const QuantileDelta* overall = delta_at(c.overall, rule.percentile);
        if (!evaluated && latency)
          std::snprintf(b, sizeof b,
                        "not evaluated: neither overall (n=%llu/%llu) nor any route has enough timed responses "
                        "on both sides to call a rise of %s",
                        static_cast<unsigned long long>(overall ? overall->base.n : 0),
                        static_cast<unsigned long long>(overall ? overall->candidate.n : 0),
                        percentile_name(rule.percentile).c_str());
        else if (!evaluated)
          std::snprintf(b, sizeof b, "not evaluated: no outcomes on a side (base %llu, candidate %llu)",
                        static_cast<unsigned long long>(c.overall.errors.base_total),
                        static_cast<unsigned long long>(c.overall.errors.candidate_total));
        else if (!latency)
          std::snprintf(b, sizeof b, "error rate %.2f%% -> %.2f%% overall", c.overall.errors.base_rate() * 100,
                        c.overall.errors.candidate_rate() * 100);
        else
          std::snprintf(b, sizeof b, "overall and %zu routes checked; %s%s", c.routes.size(),
                        worst == -1e300 ? "no significant increase" : "largest significant increase ",
                        worst == -1e300  ? ""
                        : rule.relative ? pct(worst).c_str()
                                        : ms(static_cast<std::int64_t>(worst)).c_str());
        r.summary = b;
        r.evaluated = evaluated;
        break;
      }
      case GateRule::Metric::StatusChanges:
      case GateRule::Metric::ErrorChanges:
      case GateRule::Metric::BodyDiffs: {
        const bool body = rule.metric == GateRule::Metric::BodyDiffs;
        const std::uint64_t n = rule.metric == GateRule::Metric::StatusChanges ? c.status_changes
                                : rule.metric == GateRule::Metric::ErrorChanges ? c.error_changes
                                                                                : c.bodies_differing;
        const std::uint64_t of = body ? c.bodies_compared : c.pairs;
        const double value = rule.share ? (of ? double(n) / double(of) : 0) : double(n);
        std::snprintf(b, sizeof b, "%s%llu of %llu %s (%.2f%%)", of == 0 ? "not evaluated: " : "",
                      static_cast<unsigned long long>(n), static_cast<unsigned long long>(of),
                      body ? "compared bodies" : "pairs", of ? 100.0 * double(n) / double(of) : 0.0);
        r.summary = b;
        r.evaluated = of > 0;
        if (value > rule.threshold) {
          if (rule.metric == GateRule::Metric::StatusChanges) {
            for (const auto& s : c.statuses)
              if (!s.noise)
                r.findings.push_back(s.route + ": " + std::to_string(s.from) + " -> " + std::to_string(s.to) +
                                     " x" + std::to_string(s.count));
          } else if (rule.metric == GateRule::Metric::ErrorChanges) {
            for (const auto& e : c.errors)
              r.findings.push_back(e.route + ": " + e.from + " -> " + e.to + " x" + std::to_string(e.count));
          } else {
            for (const auto& f : c.fields)
              if (!f.count.noise)
                r.findings.push_back(f.route + ": " + f.path + " differs in " + std::to_string(f.count.differing) +
                                     " of " + std::to_string(f.count.compared));
          }
          if (r.findings.empty()) r.findings.push_back(r.summary);
        }
        break;
      }
    }
    if (!r.evaluated) r.findings.push_back(r.summary);
    r.failed = !r.findings.empty();
    results.push_back(std::move(r));
  }
  return results;
}

}  // namespace reprise::report
