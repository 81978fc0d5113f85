// `reprise replay`: trace → target under a plan → run file. Flags become a replay::Plan and
// ReplayOptions; the library does the rest. Output (summary, status line, dry run) is in
// replay_output.cpp.

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <ctime>

#include "cli_support.hpp"
#include "recorder_flags.hpp"
#include "replay_output.hpp"
#include "reprise/replay/dry_run.hpp"
#include "reprise/replay/metrics_server.hpp"
#include "reprise/replay/replayer.hpp"
#include "reprise/units.hpp"

namespace reprise::tools {
namespace {

struct ReplayFlags {
  std::string trace, target, output, rate, duration, start_at, stats_json, metrics_listen;
  std::string clone_spread = "1s", max_rate, max_lateness = "5s", connect_timeout = "5s",
              request_timeout = "30s", idle_timeout = "4s", drain_timeout = "10s",
              keep_bodies = "64KiB", connections = "pool", session_order = "sent", shard = "0/1";
  std::vector<std::string> stages, abort_on;
  // Filters and rewrites.
  std::vector<std::string> methods, include_paths, exclude_paths, rewrite_paths, set_headers, drop_headers;
  std::string host_header = "keep";
  bool skip_unsafe = false;
  // Correlation.
  std::vector<std::string> correlate, clone_rewrites;
  std::string correlation_timeout = "2s";
  bool no_correlate = false, no_detect = false;
  double speed = 1.0, multiplier = 1.0;
  std::uint64_t seed = 1;
  std::uint32_t max_inflight = 256, max_connections = 256;
  bool loop = false, dry_run = false, no_default_aborts = false, progress = false;
  // Given on the command line (not the default).
  bool speed_given = false, max_lateness_given = false, correlation_timeout_given = false;
};

std::atomic<int> g_interrupts{0};

extern "C" void on_interrupt(int) { g_interrupts.fetch_add(1); }

std::int64_t duration_flag(const std::string& flag, const std::string& value) {
  const auto ns = parse_duration_ns(value);
  if (!ns || *ns <= 0) throw UsageError(flag + ": '" + value + "' is not a duration (e.g. 500ms, 30s, 2m)");
  return *ns;
}

// "1732406400" (unix seconds) or "2026-11-24T10:00:00Z".
std::int64_t start_at_flag(const std::string& value) {
  char* end = nullptr;
  const double seconds = std::strtod(value.c_str(), &end);
  if (!value.empty() && *end == '\0') {
    // Up to the year 2262, where nanoseconds since 1970 leave 64 bits.
    if (!(seconds > 0 && seconds < 9.2e9))
      throw UsageError("--start-at: '" + value + "': unix seconds from 1 to 9200000000, or a UTC time");
    return static_cast<std::int64_t>(seconds * 1e9);
  }
  std::tm tm{};
  const char* rest = strptime(value.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (rest == nullptr || (std::string(rest) != "Z" && std::string(rest) != ""))
    throw UsageError("--start-at: '" + value + "': give unix seconds or 2026-11-24T10:00:00Z (UTC)");
  return static_cast<std::int64_t>(timegm(&tm)) * 1'000'000'000;
}

// Unwraps a flag parser's result; its error becomes a usage error (exit 2).
template <typename T>
T flag_value(Result<T> r) {
  if (!r) throw UsageError(r.error().message());
  return std::move(*r);
}

replay::Rewrites to_rewrites(const ReplayFlags& f) {
  replay::Rewrites w;
  for (const auto& m : f.methods) w.methods.push_back(flag_value(replay::parse_method(m)));
  w.skip_unsafe = f.skip_unsafe;
  for (const auto& p : f.include_paths) w.include_paths.push_back(flag_value(replay::parse_path_filter("--include-path", p)));
  for (const auto& p : f.exclude_paths) w.exclude_paths.push_back(flag_value(replay::parse_path_filter("--exclude-path", p)));
  for (const auto& r : f.rewrite_paths) w.paths.push_back(flag_value(replay::parse_path_rewrite(r)));
  for (const auto& h : f.set_headers) w.set_headers.push_back(flag_value(replay::parse_set_header(h)));
  for (const auto& d : f.drop_headers) w.drop_headers.push_back(flag_value(replay::parse_drop_header(d)));
  w.host_header = flag_value(replay::parse_host_header(f.host_header));
  return w;
}

replay::Plan to_plan(const ReplayFlags& f) {
  replay::Plan p;
  p.speed = f.speed;
  p.multiplier = f.multiplier;
  p.seed = f.seed;
  p.loop = f.loop;
  if (!f.rate.empty()) {
    if (f.rate == "max") {
      p.pacing = replay::Pacing::Max;
    } else {
      const auto r = parse_rate(f.rate);
      if (!r || *r <= 0) throw UsageError("--rate: '" + f.rate + "' (e.g. 500/s, or max)");
      p.pacing = replay::Pacing::Rate;
      p.rate_per_s = *r;
    }
  }
  for (const auto& s : f.stages) {
    auto stage = replay::parse_stage(s);
    if (!stage) throw UsageError(stage.error().message());
    p.stages.push_back(*stage);
  }
  if (!f.duration.empty()) p.duration_ns = duration_flag("--duration", f.duration);
  p.clone_spread_ns = duration_flag("--clone-spread", f.clone_spread);
  p.max_inflight = f.max_inflight;
  p.max_connections = f.max_connections;
  if (!f.max_rate.empty()) {
    const auto r = parse_rate(f.max_rate);
    if (!r || *r <= 0) throw UsageError("--max-rate: '" + f.max_rate + "' (e.g. 1000/s)");
    p.max_rate_per_s = *r;
  }
  p.max_lateness_ns = duration_flag("--max-lateness", f.max_lateness);
  p.connect_timeout_ns = duration_flag("--connect-timeout", f.connect_timeout);
  p.request_timeout_ns = duration_flag("--request-timeout", f.request_timeout);
  p.idle_timeout_ns = duration_flag("--idle-timeout", f.idle_timeout);
  if (f.connections == "per-recorded") p.connections = replay::ConnectionMode::PerRecorded;
  else if (f.connections != "pool") throw UsageError("--connections: 'pool' or 'per-recorded'");
  if (f.session_order == "strict") p.strict_session_order = true;
  else if (f.session_order != "sent") throw UsageError("--session-order: 'sent' or 'strict'");
  unsigned i = 0, n = 0;
  char tail = 0;
  if (std::sscanf(f.shard.c_str(), "%u/%u%c", &i, &n, &tail) != 2)
    throw UsageError("--shard: '" + f.shard + "' (i/N, e.g. 0/4)");
  p.shard_index = i;
  p.shard_count = n;
  p.rewrites = to_rewrites(f);
  p.correlation.enabled = !f.no_correlate;
  p.correlation.detect = !f.no_detect;
  for (const auto& c : f.correlate) p.correlation.rules.push_back(flag_value(replay::parse_correlation_rule(c)));
  for (const auto& c : f.clone_rewrites)
    p.correlation.clone_rewrites.push_back(flag_value(replay::parse_clone_rewrite(c)));
  // Given, it must be below --max-lateness (Plan::validate); by default it adapts to a short one.
  p.correlation.timeout_ns = f.correlation_timeout_given
                                 ? duration_flag("--correlation-timeout", f.correlation_timeout)
                                 : std::min(duration_flag("--correlation-timeout", f.correlation_timeout),
                                            p.max_lateness_ns / 2);
  if (f.speed_given && p.pacing != replay::Pacing::Recorded)
    throw UsageError("--speed scales the recorded gaps, and --rate replaces them: give one of the two");
  if (f.max_lateness_given && p.pacing == replay::Pacing::Max)
    throw UsageError("--max-lateness: with --rate max nothing has a due time, so nothing is late; drop it");
  if (f.no_correlate && (!f.correlate.empty() || !f.clone_rewrites.empty()))
    throw UsageError("--no-correlate sends requests verbatim: drop --correlate and --clone-rewrite, or it");
  if (Status st = p.validate(); !st) throw UsageError(st.error().message());
  return p;
}

int run_replay_command(const ReplayFlags& f) {
  // Every flag is checked before anything runs, a dry run included: it must not pass a plan the
  // real run refuses.
  replay::ReplayOptions o;
  o.plan = to_plan(f);
  // A rule given for a metric replaces the default rule for that metric.
  std::vector<replay::AbortRule> given;
  for (const auto& text : f.abort_on) {
    auto rule = replay::parse_abort_rule(text);
    if (!rule) throw UsageError(rule.error().message());
    given.push_back(*rule);
  }
  if (!f.no_default_aborts)
    for (const auto& d : replay::default_abort_rules()) {
      const bool replaced = std::any_of(given.begin(), given.end(), [&](const auto& g) {
        return g.metric == d.metric;
      });
      if (!replaced) o.abort_rules.push_back(d);
    }
  o.abort_rules.insert(o.abort_rules.end(), given.begin(), given.end());
  o.drain_timeout_ns = duration_flag("--drain-timeout", f.drain_timeout);
  const auto keep = parse_size(f.keep_bodies);
  if (!keep) throw UsageError("--keep-bodies: '" + f.keep_bodies + "' is not a size (e.g. 64KiB, 0)");
  o.keep_body = *keep;
  if (!f.start_at.empty()) o.start_at_unix_ns = start_at_flag(f.start_at);
  if (!f.metrics_listen.empty())
    if (Status st = replay::MetricsServer::check(f.metrics_listen); !st) throw UsageError(st.error().message());
  o.metrics_listen = f.metrics_listen;

  auto target = replay::Target::parse(f.target.empty() ? "http://127.0.0.1:80" : f.target);
  if (!target) return report(target.error());
  auto detection = replay::add_detected_rules(f.trace, o.plan, *target);
  if (!detection) return report(detection.error());
  if (f.dry_run) {
    auto report_result = replay::dry_run(f.trace, o.plan, *target);
    if (!report_result) return report(report_result.error());
    print_dry_run(*report_result, o.plan, *detection);
    return kExitOk;
  }
  if (f.target.empty()) throw UsageError("replay: --target is required (or use --dry-run)");
  if (f.output.empty()) throw UsageError("replay: -o RUN is required (or use --dry-run)");
  o.trace_path = f.trace;
  o.run_path = f.output;
  o.writer = recording_writer_options();
  o.target = *target;
  o.interrupts = &g_interrupts;
  if (f.progress || isatty(STDERR_FILENO)) o.on_status = print_status_line;
  if (o.start_at_unix_ns > 0) {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    const std::int64_t now_ns = static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
    if (o.start_at_unix_ns < now_ns)
      std::fprintf(stderr, "replay: warning: --start-at is %.1f s in the past: starting now, not aligned with "
                           "shards that started on time\n", static_cast<double>(now_ns - o.start_at_unix_ns) / 1e9);
  }

  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  print_start(o, *detection);
  auto summary = replay::run_replay(o);
  std::signal(SIGINT, SIG_DFL);
  std::signal(SIGTERM, SIG_DFL);
  if (!summary) return report(summary.error());
  // A run that ended otherwise keeps its exit code; a completed one whose summary file could
  // not be written is exit 4 (the run file is complete either way).
  const Status stats = print_summary(*summary, o, f.stats_json);
  if (!stats) report(stats.error());
  switch (summary->end) {
    case replay::ReplayEnd::Completed: return stats ? kExitOk : kExitEnvironment;
    case replay::ReplayEnd::Aborted: return kExitAborted;
    case replay::ReplayEnd::Interrupted: return kExitInterrupted;
  }
  return kExitOk;
}

}  // namespace

void add_replay_command(CLI::App& app, int& exit_code) {
  auto f = std::make_shared<ReplayFlags>();
  auto* cmd = app.add_subcommand("replay", "Replay a trace against a target under a plan "
                                           "(speed, multiplier, rate, ramp, limits, abort rules)");
  cmd->add_option("trace", f->trace, "trace to replay, - for standard input")->required();
  cmd->add_option("--target", f->target, "http://host:port to send to (paths come from the trace)");
  cmd->add_option("-o,--output", f->output, "run file to write, - for standard output");
  cmd->add_flag("--dry-run", f->dry_run, "send nothing: print the plan (requests, sessions, rate per second)");
  // Plan.
  cmd->add_option("--speed", f->speed, "divide recorded gaps by this (default 1)");
  cmd->add_option("--multiplier", f->multiplier, "session clones: 2.5 = every session twice, half a third time (default 1)");
  cmd->add_option("--rate", f->rate, "fixed arrival rate instead of recorded gaps (500/s), or max");
  cmd->add_option("--stage", f->stages, "ramp stage DURATION:LEVEL% (repeatable; levels multiply the multiplier or the rate)");
  cmd->add_flag("--loop", f->loop, "repeat the trace until the stages or --duration end");
  cmd->add_option("--duration", f->duration, "stop after this long");
  cmd->add_option("--clone-spread", f->clone_spread, "clones start up to this much after the recorded session (default 1s)");
  cmd->add_option("--seed", f->seed, "seed for clone ranks, offsets and shards (default 1)");
  cmd->add_option("--shard", f->shard, "replay share i of N (i/N), session-preserving");
  cmd->add_option("--start-at", f->start_at, "wait until this time (unix seconds or UTC ISO 8601) to start");
  // Limits.
  cmd->add_option("--max-inflight", f->max_inflight, "requests in flight at most (default 256)");
  cmd->add_option("--max-connections", f->max_connections, "connections open at most (default 256)");
  cmd->add_option("--max-rate", f->max_rate, "requests per second at most (e.g. 1000/s; default none)");
  cmd->add_option("--max-lateness", f->max_lateness, "shed a request held back longer than this (default 5s)");
  cmd->add_option("--connections", f->connections, "pool (keep-alive, shared) or per-recorded (default pool)");
  cmd->add_option("--connect-timeout", f->connect_timeout, "default 5s");
  cmd->add_option("--request-timeout", f->request_timeout, "default 30s");
  cmd->add_option("--idle-timeout", f->idle_timeout, "close pooled connections idle this long (default 4s)");
  cmd->add_option("--session-order", f->session_order, "sent (default) or strict: next request after the previous answer");
  // Filters and rewrites.
  cmd->add_option("--method", f->methods, "replay only requests with this method (repeatable)");
  cmd->add_flag("--skip-unsafe", f->skip_unsafe, "leave out POST, PUT, PATCH and DELETE (for shared environments)");
  cmd->add_option("--include-path", f->include_paths, "replay only targets this regex finds a match in (repeatable)");
  cmd->add_option("--exclude-path", f->exclude_paths, "leave out targets this regex finds a match in (repeatable)");
  cmd->add_option("--rewrite-path", f->rewrite_paths, "rewrite targets: 'REGEX=>REPLACEMENT' ($1 groups; repeatable, in order)");
  cmd->add_option("--set-header", f->set_headers, "'NAME: VALUE' replaces (or adds) that header (repeatable)");
  cmd->add_option("--drop-header", f->drop_headers, "leave this recorded header out (repeatable)");
  cmd->add_option("--host-header", f->host_header, "keep (the recorded Host, default) or target (the target's host:port)");
  cmd->add_flag("--no-correlate", f->no_correlate, "send recorded requests verbatim: no cookie jars, no learned values, no clone rewrites");
  cmd->add_option("--correlate", f->correlate, "follow this value: json:$.PATH, header:NAME, cookie:NAME, html:NAME, location, regex:PATTERN (repeatable)");
  cmd->add_flag("--no-detect", f->no_detect, "follow only --correlate rules (cookie jars stay on)");
  cmd->add_option("--correlation-timeout", f->correlation_timeout, "longest wait for a value a clone's earlier answer brings (default 2s)");
  cmd->add_option("--clone-rewrite", f->clone_rewrites, "give clones their own value: header:NAME, query:NAME, cookie:NAME[=TEMPLATE with {clone} {value}] (repeatable)");
  // Safety and output.
  cmd->add_option("--abort-on", f->abort_on, "abort rule METRIC>THRESHOLD/WINDOW, e.g. 'errors>20%/10s' (repeatable)");
  cmd->add_flag("--no-default-aborts", f->no_default_aborts, "drop the default abort rules");
  cmd->add_option("--drain-timeout", f->drain_timeout, "on abort or Ctrl-C, wait this long for in-flight requests (default 10s)");
  cmd->add_option("--keep-bodies", f->keep_bodies, "response body bytes kept per outcome for compare (default 64KiB, 0: none)");
  cmd->add_option("--metrics-listen", f->metrics_listen, "serve OpenMetrics on HOST:PORT during the run (e.g. 127.0.0.1:9464)");
  cmd->add_option("--stats-json", f->stats_json, "also write the summary to this JSON file");
  cmd->add_flag("--progress", f->progress, "print the status line even when stderr is not a terminal");
  cmd->callback([f, cmd, &exit_code] {
    f->speed_given = cmd->count("--speed") > 0;
    f->max_lateness_given = cmd->count("--max-lateness") > 0;
    f->correlation_timeout_given = cmd->count("--correlation-timeout") > 0;
    exit_code = run_replay_command(*f);
  });
}

}  // namespace reprise::tools
