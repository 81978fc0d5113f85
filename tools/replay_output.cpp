#include "replay_output.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "cli_support.hpp"
#include "reprise/format/record_json.hpp"
#include "reprise/units.hpp"
#include "reprise/json_text.hpp"

namespace reprise::tools {
namespace {

using replay::IntervalStats;
using replay::OutcomeError;

unsigned long long ull(std::uint64_t v) { return static_cast<unsigned long long>(v); }

double ms(std::int64_t ns) { return static_cast<double>(ns) / 1e6; }

const char* error_name(std::size_t kind) {
  return format::error_kind_name(static_cast<format::fb::ErrorKind>(kind));
}

nlohmann::json percentiles_json(const replay::Histogram& h) {
  nlohmann::json j;
  for (double p : {50.0, 90.0, 95.0, 99.0, 99.9}) {
    char key[16];
    std::snprintf(key, sizeof key, "p%g", p);
    j[key] = ms(h.percentile(p));
  }
  j["max"] = ms(h.max());
  j["mean"] = h.mean() / 1e6;
  return j;
}

void print_percentiles(const char* label, const replay::Histogram& h) {
  std::fprintf(stderr, "  %-22s p50 %.2f  p90 %.2f  p95 %.2f  p99 %.2f  p99.9 %.2f  max %.2f ms\n",
               label, ms(h.percentile(50)), ms(h.percentile(90)), ms(h.percentile(95)),
               ms(h.percentile(99)), ms(h.percentile(99.9)), ms(h.max()));
}

// What the feed left out of the trace, one line per kind, labels `width` wide.
std::string feed_lines(const replay::FeedStats& f, int width) {
  std::string out;
  char line[256];
  if (f.skipped() > 0) {
    std::snprintf(line, sizeof line, "  %-*s%llu (no request %llu, incomplete or truncated %llu, upgrade %llu)\n",
                  width, "skipped from trace", ull(f.skipped()), ull(f.skipped_no_request),
                  ull(f.skipped_incomplete), ull(f.skipped_upgrade));
    out += line;
  }
  if (f.filtered() > 0) {
    std::snprintf(line, sizeof line, "  %-*s%llu (--method %llu, --skip-unsafe %llu, path filters %llu)\n", width,
                  "filtered out", ull(f.filtered()), ull(f.filtered_method), ull(f.filtered_unsafe),
                  ull(f.filtered_path));
    out += line;
  }
  return out;
}

// How clones are kept coherent users: one line per rule, labels `width` wide.
std::string correlation_lines(const replay::Plan& plan, const replay::Detection& detection, int width) {
  const auto& c = plan.correlation;
  char line[512];
  if (!c.enabled) {
    std::snprintf(line, sizeof line, "  %-*soff (--no-correlate): recorded cookies and values sent as they are\n",
                  width, "correlation");
    return line;
  }
  std::string out;
  std::string detected = !c.detect ? "detection off (--no-detect)"
                         : detection.from_stdin     ? "no detection (trace on standard input)"
                         : detection.exchanges == 0 ? "no detection (no exchange in the trace)"
                         : "detection over " + std::to_string(detection.exchanges) + " exchanges" +
                               (detection.complete ? "" : " (the first ones only)");
  std::snprintf(line, sizeof line, "  %-*scookie jar per clone; %zu rule%s; %s\n", width, "correlation",
                c.rules.size(), c.rules.size() == 1 ? "" : "s", detected.c_str());
  out += line;
  for (const auto& r : c.rules) {
    std::string how = "given";
    if (r.automatic)
      for (const auto& d : detection.rules)
        if (d.rule == r.text) how = "detected, " + std::to_string(d.uses) + " uses, e.g. " + d.example;
    std::snprintf(line, sizeof line, "  %-*s%s (%s)\n", width, "", r.text.c_str(), how.c_str());
    out += line;
  }
  for (const auto& r : c.clone_rewrites) {
    std::snprintf(line, sizeof line, "  %-*s--clone-rewrite '%s'\n", width, "", r.text.c_str());
    out += line;
  }
  return out;
}

}  // namespace

void print_dry_run(const replay::DryRunReport& r, const replay::Plan& plan,
                   const replay::Detection& detection) {
  std::printf("dry run: nothing sent\n");
  std::printf("  requests           %llu (of %llu exchanges in the trace, %u pass%s)%s\n",
              ull(r.requests), ull(r.feed.exchanges), r.schedule.passes,
              r.schedule.passes == 1 ? "" : "es",
              r.one_pass_of_loop ? "; --loop repeats it until --duration" : "");
  std::printf("  session clones     %llu admitted (%llu below the level, %llu other shards)\n",
              ull(r.session_clones), ull(r.schedule.clones_below_level),
              ull(r.schedule.clones_other_shard));
  std::fputs(feed_lines(r.feed, 19).c_str(), stdout);
  const auto rules = plan.rewrites.describe();
  for (std::size_t i = 0; i < rules.size(); ++i)
    std::printf("  %-19s%s\n", i == 0 ? "rules" : "", rules[i].c_str());
  std::fputs(correlation_lines(plan, detection, 19).c_str(), stdout);
  if (plan.pacing == replay::Pacing::Max) {
    std::printf("  pacing             as fast as the limits allow (max %u in flight, %u connections)\n",
                plan.max_inflight, plan.max_connections);
    return;
  }
  std::printf("  duration           %s\n", format_duration(r.last_due_ns).c_str());
  std::printf("  peak rate          %llu/s\n", ull(r.peak_rate));
  std::printf("  peak in flight     ~%.1f (estimate from recorded response times; limit %u)\n",
              r.peak_inflight, plan.max_inflight);
  std::printf("  rate per second    %s%s\n", replay::sparkline(r.per_second, 60).c_str(),
              r.per_second_truncated ? " (first 7 days)" : "");
  if (plan.max_rate_per_s > 0 && static_cast<double>(r.peak_rate) > plan.max_rate_per_s)
    std::printf("  warning            the plan peaks at %llu/s, over --max-rate %.0f/s: requests held back "
                "longer than %s are shed\n",
                ull(r.peak_rate), plan.max_rate_per_s, format_duration(plan.max_lateness_ns).c_str());
  std::printf("  limits             max in flight %u, connections %u, rate %s, shed after %s\n",
              plan.max_inflight, plan.max_connections,
              plan.max_rate_per_s > 0 ? (std::to_string(static_cast<long long>(plan.max_rate_per_s)) + "/s").c_str() : "none",
              format_duration(plan.max_lateness_ns).c_str());
}

void print_start(const replay::ReplayOptions& o, const replay::Detection& detection) {
  std::fprintf(stderr, "replay: %s -> %s, run file %s; Ctrl-C stops cleanly (twice: at once)\n",
               o.trace_path.c_str(), o.target.url.c_str(), o.run_path.c_str());
  std::string rules;
  for (const auto& r : o.abort_rules) rules += (rules.empty() ? "" : ", ") + r.text;
  std::fprintf(stderr, "replay: limits: %u in flight, %u connections; abort rules: %s\n",
               o.plan.max_inflight, o.plan.max_connections, rules.empty() ? "none" : rules.c_str());
  std::string lines = correlation_lines(o.plan, detection, 13);
  for (std::size_t at = 0; at < lines.size();) {
    const auto end = lines.find('\n', at);
    std::fprintf(stderr, "replay:%s\n", lines.substr(at + 1, end - at - 1).c_str());
    at = end + 1;
  }
}

void print_status_line(const replay::LiveStatus& s) {
  std::string planned = s.planned_ns > 0 ? "/" + format_duration(s.planned_ns) : "";
  char rate[48] = "";
  if (s.target_rate > 0) std::snprintf(rate, sizeof rate, "%.0f/", s.target_rate);
  std::fprintf(stderr,
               "\r%s%s  level %.0f%%  rate %s%.0f/s  in flight %u (+%llu waiting)  p50 %.1fms "
               "p99 %.1fms  failed %llu  shed %llu  late p99 %.1fms\x1b[K",
               format_duration(s.elapsed_ns).c_str(), planned.c_str(), s.stage_level * 100, rate,
               s.achieved_rate, s.inflight, ull(s.waiting), ms(s.p50_ns), ms(s.p99_ns),
               ull(s.failed), ull(s.shed), ms(s.lateness_p99_ns));
  if (!isatty(STDERR_FILENO)) std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

Status print_summary(const replay::ReplaySummary& s, const replay::ReplayOptions& o,
                   const std::string& stats_json) {
  if (isatty(STDERR_FILENO)) std::fprintf(stderr, "\n");
  const IntervalStats& t = s.totals;
  const double seconds = static_cast<double>(s.duration_ns) / 1e9;
  const double rate = seconds > 0 ? static_cast<double>(t.outcomes) / seconds : 0;
  std::fprintf(stderr, "replay: %s after %s\n", s.end_reason.c_str(), format_duration(s.duration_ns).c_str());
  std::fprintf(stderr, "  requests               %llu outcomes, %llu sent, %.1f/s\n", ull(t.outcomes),
               ull(s.engine.sent), rate);
  if (t.outcomes == 0 && s.engine.dropped_at_stop == 0)
    std::fprintf(stderr, "  warning                nothing was replayed: %s\n",
                 s.feed.exchanges == 0 ? "the trace holds no exchange"
                                       : "the filters left none of the trace's exchanges (see filtered and skipped below)");
  std::fprintf(stderr, "  status                 1xx %llu  2xx %llu  3xx %llu  4xx %llu  5xx %llu  none %llu\n",
               ull(t.status_classes[1]), ull(t.status_classes[2]), ull(t.status_classes[3]),
               ull(t.status_classes[4]), ull(t.status_classes[5]), ull(t.status_classes[0]));
  std::string errors;
  for (std::size_t k = 1; k < t.errors.size(); ++k)
    if (t.errors[k] > 0) errors += std::string(errors.empty() ? "" : "  ") + error_name(k) + " " + std::to_string(t.errors[k]);
  std::fprintf(stderr, "  errors                 %s\n", errors.empty() ? "none" : errors.c_str());
  print_percentiles("latency (from send)", t.service);
  print_percentiles("latency (corrected)", t.corrected);
  print_percentiles("send lateness", t.lateness);
  std::fprintf(stderr, "  limits                 max in flight seen %u (limit %u), connections %u opened %llu, "
                       "held back: in-flight %llu, connections %llu, rate %llu, back-off %llu\n",
               s.engine.max_inflight_seen, o.plan.max_inflight, s.engine.max_connections_seen,
               ull(s.engine.connections_opened), ull(s.engine.held_by_inflight), ull(s.engine.held_by_connections),
               ull(s.engine.held_by_rate), ull(s.engine.held_by_backoff));
  if (s.engine.stale_connections > 0)
    std::fprintf(stderr, "  stale connections      %llu closed by the server while idle, %llu requests re-sent on a fresh one\n",
                 ull(s.engine.stale_connections), ull(s.engine.retries));
  std::fputs(feed_lines(s.feed, 23).c_str(), stderr);
  if (s.engine.dropped_at_stop > 0)
    std::fprintf(stderr, "  not sent (stopped)     %llu planned requests (not yet due, or waiting at max rate)\n", ull(s.engine.dropped_at_stop));
  const auto& c = s.correlation;
  if (o.plan.correlation.enabled) {
    std::fprintf(stderr, "  cookie jars            %llu Set-Cookie stored (%llu rejected), %llu Cookie headers rewritten%s\n",
                 ull(c.cookies_set), ull(c.cookies_rejected), ull(c.cookie_headers_rewritten),
                 c.clones_forgotten > 0 ? (", " + std::to_string(c.clones_forgotten) + " clone states forgotten (limit)").c_str() : "");
    for (std::size_t k = 0; k < c.rules.size(); ++k) {
      const auto& r = c.rules[k];
      std::fprintf(stderr, "  %-23s%s: learned %llu, substituted %llu, waits %llu, timeouts %llu, misses %llu%s\n",
                   k == 0 ? "correlation" : "", r.rule.c_str(), ull(r.learned), ull(r.substituted),
                   ull(r.waits), ull(r.timeouts), ull(r.misses),
                   r.rejected > 0 ? (", rejected " + std::to_string(r.rejected) + " (control characters or over 8 KiB)").c_str() : "");
    }
    const auto& tr = s.tracker;
    if (tr.values_forgotten + tr.sessions_forgotten + c.values_forgotten + tr.values_not_identifiers > 0)
      std::fprintf(stderr, "  correlation limits     trace: %llu values and %llu sessions forgotten, %llu values "
                           "not identifiers (not followed); clones: %llu values forgotten\n",
                   ull(tr.values_forgotten), ull(tr.sessions_forgotten), ull(tr.values_not_identifiers),
                   ull(c.values_forgotten));
  }
  std::fprintf(stderr, "  run file               %s (%llu outcomes, %s)\n", s.run_path.c_str(),
               ull(s.run_file.records), format_size(s.run_file.file_bytes).c_str());

  if (stats_json.empty()) return {};
  nlohmann::json j;
  j["end_reason"] = s.end_reason;
  j["duration_s"] = seconds;
  j["outcomes"] = t.outcomes;
  j["sent"] = s.engine.sent;
  j["rate_per_s"] = rate;
  j["failed"] = t.failed;
  j["shed"] = s.engine.shed;
  j["aborted"] = s.engine.aborted;
  j["dropped_at_stop"] = s.engine.dropped_at_stop;
  j["status_classes"] = {{"1xx", t.status_classes[1]}, {"2xx", t.status_classes[2]},
                         {"3xx", t.status_classes[3]}, {"4xx", t.status_classes[4]},
                         {"5xx", t.status_classes[5]}, {"none", t.status_classes[0]}};
  for (std::size_t k = 1; k < t.errors.size(); ++k) j["errors"][error_name(k)] = t.errors[k];
  j["latency_ms"] = percentiles_json(t.service);
  j["corrected_latency_ms"] = percentiles_json(t.corrected);
  j["lateness_ms"] = percentiles_json(t.lateness);
  j["max_inflight_seen"] = s.engine.max_inflight_seen;
  j["max_connections_seen"] = s.engine.max_connections_seen;
  j["connections_opened"] = s.engine.connections_opened;
  j["connect_failures"] = s.engine.connect_failures;
  j["stale_connections"] = s.engine.stale_connections;
  j["retries"] = s.engine.retries;
  j["held_back"] = {{"inflight", s.engine.held_by_inflight},
                    {"connections", s.engine.held_by_connections},
                    {"rate", s.engine.held_by_rate},
                    {"backoff", s.engine.held_by_backoff}};
  j["schedule"] = {{"input_requests", s.schedule.input_requests},
                   {"session_clones", s.schedule.sessions},
                   {"clones_admitted", s.schedule.clones_admitted},
                   {"planned", s.schedule.planned},
                   {"passes", s.schedule.passes},
                   {"passes_from_memory", s.feed.passes_from_memory},
                   {"loop_cache_overflows", s.feed.loop_cache_overflows},
                   {"sessions_forgotten", s.schedule.sessions_forgotten}};
  j["skipped"] = {{"no_request", s.feed.skipped_no_request},
                  {"incomplete", s.feed.skipped_incomplete},
                  {"upgrade", s.feed.skipped_upgrade}};
  j["filtered"] = {{"method", s.feed.filtered_method},
                   {"unsafe", s.feed.filtered_unsafe},
                   {"path", s.feed.filtered_path}};
  if (o.plan.correlation.enabled) {
    auto& cj = j["correlation"];
    cj["cookies_set"] = c.cookies_set;
    cj["cookies_rejected"] = c.cookies_rejected;
    cj["cookie_headers_rewritten"] = c.cookie_headers_rewritten;
    cj["clones_forgotten"] = c.clones_forgotten;
    cj["values_forgotten_in_clones"] = c.values_forgotten;
    cj["values_forgotten_in_trace"] = s.tracker.values_forgotten;
    cj["sessions_forgotten_in_trace"] = s.tracker.sessions_forgotten;
    cj["values_not_identifiers"] = s.tracker.values_not_identifiers;
    cj["values_in_trace"] = s.tracker.values_found;
    cj["needs_in_trace"] = s.tracker.needs;
    auto& rules = cj["rules"] = nlohmann::json::array();
    for (const auto& r : c.rules)
      rules.push_back({{"rule", r.rule}, {"automatic", r.automatic}, {"learned", r.learned},
                       {"substituted", r.substituted}, {"waits", r.waits}, {"timeouts", r.timeouts},
                       {"misses", r.misses},
                       {"rejected", r.rejected}});
  }
  j["run_file"] = {{"path", s.run_path}, {"records", s.run_file.records}, {"bytes", s.run_file.file_bytes}};
  return write_text_file(stats_json, json_text(j, 2) + "\n");
}

}  // namespace reprise::tools
