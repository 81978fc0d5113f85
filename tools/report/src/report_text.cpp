#include "reprise/report/report_text.hpp"

#include <cstdarg>
#include <cstdio>

#include "reprise/units.hpp"

namespace reprise::report {
namespace {

// printf into a std::string.
void put(std::string& out, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void put(std::string& out, const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  const int n = std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (n > 0) out.append(buf, std::min<std::size_t>(static_cast<std::size_t>(n), sizeof buf - 1));
}

unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }
std::string dur(std::int64_t ns) { return format_duration(ns); }
double pct(std::uint64_t part, std::uint64_t whole) { return whole ? 100.0 * double(part) / double(whole) : 0; }

std::string cut(const std::string& s, std::size_t width) {
  return s.size() <= width ? s : s.substr(0, width - 3) + "...";
}

void put_tally_header(std::string& out) {
  put(out, "  %-36s %9s %7s %9s %9s %9s %9s %9s\n", "route", "requests", "errors", "p50", "p90", "p99",
      "p99.9", "max");
}

void put_tally_row(std::string& out, const std::string& name, const Tally& t) {
  const auto& s = t.stats;
  const auto& h = s.corrected;
  put(out, "  %-36s %9llu %6.2f%% %9s %9s %9s %9s %9s\n", cut(name, 36).c_str(), ull(s.outcomes),
      pct(s.failed, s.outcomes), dur(h.percentile(50)).c_str(), dur(h.percentile(90)).c_str(),
      dur(h.percentile(99)).c_str(), dur(h.percentile(99.9)).c_str(), dur(h.max()).c_str());
}

void put_warnings(std::string& out, const std::vector<std::string>& warnings) {
  for (const auto& w : warnings) put(out, "warning: %s\n", w.c_str());
}

std::string change_text(const QuantileDelta& q) {
  char b[96];
  std::snprintf(b, sizeof b, "%+.1f%% [%+.0f%%..%+.0f%%]%s", q.change * 100, q.change_low * 100,
                q.change_high * 100, q.direction > 0 ? " slower" : q.direction < 0 ? " faster" : "");
  return b;
}

}  // namespace

std::string render_report_text(const Report& r, std::size_t max_rows) {
  std::string out;
  for (const auto& f : r.files)
    put(out, "run      %s (shard %u/%u, target %s, trace %s)\n", f.path.c_str(), f.shard_index, f.shard_count,
        f.target.c_str(), f.trace_path.c_str());
  const auto& s = r.overall.stats;
  put(out, "ended    %s\n", r.end_reason.c_str());
  put(out, "started  %s, lasted %s\n", format_utc(r.epoch_unix_ns + r.first_ns).c_str(), dur(r.last_ns - r.first_ns).c_str());
  put(out, "requests %llu outcomes, %llu sent, %.1f/s achieved\n", ull(s.outcomes), ull(s.sent), r.achieved_rate());
  put(out, "status   1xx %llu  2xx %llu  3xx %llu  4xx %llu  5xx %llu  none %llu\n", ull(s.status_classes[1]),
      ull(s.status_classes[2]), ull(s.status_classes[3]), ull(s.status_classes[4]), ull(s.status_classes[5]),
      ull(s.status_classes[0]));
  put(out, "errors   %llu failed (%.2f%%):", ull(s.failed), pct(s.failed, s.outcomes));
  for (std::size_t k = 1; k < s.errors.size(); ++k)
    put(out, " %s %llu", error_name(static_cast<replay::OutcomeError>(k)).c_str(), ull(s.errors[k]));
  put(out, "\nlate     %llu sent more than %s after their time; lateness p99 %s\n", ull(r.overall.late),
      dur(r.late_threshold_ns).c_str(), dur(s.lateness.percentile(99)).c_str());
  put(out, "traffic  %s sent, %s received\n\n", format_size(s.bytes_sent).c_str(), format_size(s.bytes_received).c_str());

  put(out, "latency (corrected: from the intended send time)\n");
  put_tally_header(out);
  put_tally_row(out, "(all)", r.overall);
  std::size_t shown = 0;
  for (const auto& row : r.routes) {
    if (shown++ == max_rows) {
      put(out, "  ... %zu more routes (--json or --html list them all)\n", r.routes.size() - max_rows);
      break;
    }
    put_tally_row(out, row.route, row.tally);
  }
  const auto& u = s.service;
  put(out, "\nlatency (uncorrected: from the actual send)  p50 %s  p90 %s  p99 %s  p99.9 %s  max %s\n",
      dur(u.percentile(50)).c_str(), dur(u.percentile(90)).c_str(), dur(u.percentile(99)).c_str(),
      dur(u.percentile(99.9)).c_str(), dur(u.max()).c_str());
  put_warnings(out, r.warnings);
  return out;
}

std::string render_compare_text(const Comparison& c, const std::vector<GateResult>& gate, std::size_t max_rows) {
  std::string out;
  auto side = [&](const char* name, const Report& r) {
    const auto& s = r.overall.stats;
    put(out, "%-9s %s: %llu outcomes, %.1f/s, errors %.2f%%, p50 %s, p99 %s, late %llu, ended %s\n", name,
        r.files.empty() ? "?" : r.files.front().path.c_str(), ull(s.outcomes), r.achieved_rate(),
        pct(s.failed, s.outcomes), dur(s.corrected.percentile(50)).c_str(), dur(s.corrected.percentile(99)).c_str(),
        ull(r.overall.late), r.end_reason.c_str());
  };
  side("base", c.base);
  side("candidate", c.candidate);
  put(out, "pairs     %llu (unpaired: %llu base, %llu candidate); noise samples %llu\n", ull(c.pairs),
      ull(c.base_unpaired), ull(c.candidate_unpaired), ull(c.noise_pairs));
  for (const auto& n : c.noise_sources) put(out, "noise     %s\n", n.c_str());
  put(out, "late      sent more than %s after their time (--late-after): a side that is late did not "
           "send the load it was asked to\n", dur(c.base.late_threshold_ns).c_str());

  put(out, "\nlatency (corrected) per route: change of the percentile [interval]\n");
  put(out, "  %-36s %9s  %-28s %-28s\n", "route", "pairs", "p50", "p95");
  auto row = [&](const RouteComparison& rc) {
    const QuantileDelta* p50 = nullptr;
    const QuantileDelta* p95 = nullptr;
    const QuantileDelta* p99 = nullptr;
    for (const auto& q : rc.latency) {
      if (q.p == 0.50) p50 = &q;
      if (q.p == 0.95) p95 = &q;
      if (q.p == 0.99) p99 = &q;
    }
    put(out, "  %-36s %9llu  %-28s %-28s\n", cut(rc.route, 36).c_str(), ull(rc.pairs),
        p50 ? (dur(p50->base.value) + "->" + dur(p50->candidate.value)).c_str() : "",
        p95 ? (dur(p95->base.value) + "->" + dur(p95->candidate.value)).c_str() : "");
    put(out, "  %-36s %9s  %-28s %-28s\n", "", "", p50 ? change_text(*p50).c_str() : "",
        p95 ? change_text(*p95).c_str() : "");
    if (p99 != nullptr && p99->direction != 0)
      put(out, "  %-36s %9s  %-28s p99 %s\n", "", "", "", change_text(*p99).c_str());
  };
  row(c.overall);
  std::size_t shown = 0;
  for (const auto& rc : c.routes) {
    if (shown++ == max_rows) {
      put(out, "  ... %zu more routes\n", c.routes.size() - max_rows);
      break;
    }
    row(rc);
  }

  put(out, "\nerrors    %.2f%% -> %.2f%% (%+.2fpp)\n", c.overall.errors.base_rate() * 100,
      c.overall.errors.candidate_rate() * 100, c.overall.errors.delta_pp());
  put(out, "status    %llu pairs changed status\n", ull(c.status_changes));
  for (const auto& s : c.statuses) {
    put(out, "  %-36s %u -> %u  x%llu%s", cut(s.route, 36).c_str(), s.from, s.to, ull(s.count),
        s.noise ? "  (noise: the base changes too)" : "");
    if (!s.examples.empty()) put(out, "  e.g. %s", s.examples.front().target.c_str());
    put(out, "\n");
  }
  if (!c.errors.empty()) put(out, "errors    %llu pairs changed error\n", ull(c.error_changes));
  for (const auto& e : c.errors)
    put(out, "  %-36s %s -> %s  x%llu\n", cut(e.route, 36).c_str(), e.from.c_str(), e.to.c_str(), ull(e.count));
  put(out, "bodies    %llu of %llu compared differ beyond noise (%.2f%%)\n", ull(c.bodies_differing),
      ull(c.bodies_compared), pct(c.bodies_differing, c.bodies_compared));
  for (const auto& f : c.fields) {
    put(out, "  %-6s %-30s %-28s %llu/%llu", f.count.noise ? "noise" : "DIFF", cut(f.route, 30).c_str(),
        cut(f.path, 28).c_str(), ull(f.count.differing), ull(f.count.compared));
    if (f.count.noise_compared > 0)
      put(out, "  (noise %llu/%llu)", ull(f.count.noise_differing), ull(f.count.noise_compared));
    if (!f.examples.empty() && !f.count.noise)
      put(out, "  e.g. %s -> %s", cut(f.examples.front().base, 40).c_str(), cut(f.examples.front().candidate, 40).c_str());
    put(out, "\n");
  }
  put_warnings(out, compare_warnings(c));

  if (gate.empty()) {
    put(out, "\ngate      not gated (give --fail-on rules to get exit 1 on a regression)\n");
    return out;
  }
  bool failed = false;
  for (const auto& g : gate) failed = failed || g.failed;
  put(out, "\ngate      %s\n", failed ? "FAIL" : "PASS");
  for (const auto& g : gate) {
    put(out, "  %-4s %-20s %s\n", g.failed ? "FAIL" : "ok", g.rule.c_str(), g.summary.c_str());
    for (const auto& f : g.findings) put(out, "         %s\n", f.c_str());
  }
  return out;
}

}  // namespace reprise::report
