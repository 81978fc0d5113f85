#include "reprise/replay/replayer.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <thread>

#include "reprise/format/reader.hpp"
#include "reprise/format/records.hpp"
#include "reprise/replay/error.hpp"
#include "reprise/replay/metrics_server.hpp"
#include "reprise/replay/run_recorder.hpp"

namespace reprise::replay {

namespace fb = format::fb;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::int64_t kMs = 1'000'000;

std::int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int interrupts_of(const ReplayOptions& o) {
  return o.interrupts == nullptr ? 0 : o.interrupts->load();
}

}  // namespace

std::string trace_identity(const fb::FileHeader& h) {
  std::string key = std::to_string(h.created_unix_ns()) + "|" + std::to_string(h.epoch_unix_ns()) +
                    "|" + (h.source() ? h.source()->str() : std::string());
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016" PRIx64,
                format::digest64({reinterpret_cast<const std::uint8_t*>(key.data()), key.size()}));
  return hex;
}

Result<Detection> add_detected_rules(const std::string& trace_path, Plan& plan, const Target& target) {
  CorrelationSettings& c = plan.correlation;
  if (!c.enabled || !c.detect) return Detection{};
  if (trace_path == "-") {
    Detection none;
    none.from_stdin = true;
    return none;
  }
  auto found = detect_correlation(trace_path, plan, target);
  if (!found) return found.take_error();
  for (const auto& d : found->rules) {
    const bool given = std::any_of(c.rules.begin(), c.rules.end(),
                                   [&](const CorrelationRule& r) { return r.text == d.rule; });
    if (given) continue;
    auto rule = parse_correlation_rule(d.rule);
    if (!rule) continue;  // a JSON key detection cannot spell as a path: left out
    rule->automatic = true;
    c.rules.push_back(std::move(*rule));
  }
  return found;
}

Result<ReplaySummary> run_replay(const ReplayOptions& opt) {
  if (Status st = opt.plan.validate(); !st) return st.take_error();
  if (opt.plan.loop && opt.trace_path == "-")
    return fail(errc::bad_plan, "--loop", "cannot loop over standard input; give a trace file");
  std::string identity = opt.trace_identity;
  if (opt.trace_path != "-") {
    // Open once up front so a missing or foreign file is reported before anything is sent.
    auto reader = format::Reader::open(opt.trace_path);
    if (!reader) return reader.take_error();
    if ((*reader)->kind() != format::FileKind::Trace)
      return fail(errc::input_error, opt.trace_path,
                  "this is a run file; replay takes a trace (.rtrace)");
    if (identity.empty()) identity = trace_identity((*reader)->header());
  }

  // --start-at: wait for the agreed instant (shards start together), still interruptible.
  if (opt.start_at_unix_ns > 0) {
    while (unix_now_ns() < opt.start_at_unix_ns) {
      if (interrupts_of(opt) > 0) {
        ReplaySummary s;
        s.end = ReplayEnd::Interrupted;
        s.end_reason = "interrupted before the start";
        return s;
      }
      const std::int64_t left = opt.start_at_unix_ns - unix_now_ns();
      std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<std::int64_t>(left, 50 * kMs)));
    }
  }

  std::unique_ptr<MetricsServer> metrics;
  if (!opt.metrics_listen.empty()) {
    auto started = MetricsServer::start(opt.metrics_listen);
    if (!started) return started.take_error();
    metrics = std::move(*started);
  }

  // Run time 0 lies a little ahead, so the reader has queued the first requests by then.
  const std::int64_t lead_ns = 50 * kMs;
  const Clock::time_point t0 = Clock::now() + std::chrono::nanoseconds(lead_ns);
  const std::int64_t epoch_unix_ns = unix_now_ns() + lead_ns;

  EngineOptions eo;
  eo.plan = opt.plan;
  eo.target = opt.target;
  eo.keep_body = opt.keep_body;
  eo.epoch_unix_ns = epoch_unix_ns;
  auto engine_result = Engine::create(eo, t0);
  if (!engine_result) return engine_result.take_error();
  Engine& engine = **engine_result;

  fb::FileHeaderT header;
  header.kind = fb::FileKind::Run;
  header.epoch_unix_ns = epoch_unix_ns;
  header.source = "replay:" + opt.target.url;
  header.run = std::make_unique<fb::RunInfoT>();
  header.run->plan = opt.plan.to_json();
  header.run->target = opt.target.url;
  header.run->trace_digest = identity;
  header.run->trace_path = opt.trace_source.empty() ? opt.trace_path : opt.trace_source;
  header.run->shard_index = opt.plan.shard_index;
  header.run->shard_count = opt.plan.shard_count;
  auto writer_result = format::Writer::open(opt.run_path, std::move(header), opt.writer);
  if (!writer_result) return fail(errc::output_error, opt.run_path, writer_result.error().message());
  format::Writer& writer = **writer_result;

  RunRecorder recorder(&writer, opt.abort_rules);
  TraceFeed feed(opt.trace_path, opt.plan, opt.target);
  std::atomic<bool> stop_feed{false};
  std::atomic<bool> feed_done{false};
  Status feed_status;
  std::thread reader([&] {
    feed_status = feed.run([&](ScheduledRequest&& r) { return engine.submit(std::move(r)); },
                           &stop_feed);
    engine.end_of_input();
    feed_done = true;
  });

  ReplaySummary summary;
  summary.run_path = opt.run_path;
  bool stopping = false, cut = false;
  std::int64_t drain_deadline = 0;
  std::int64_t next_abort_check = 250 * kMs;
  std::int64_t next_status = 1000 * kMs;
  Status output;
  std::vector<EngineOutcome> batch;
  const Intensity intensity(opt.plan);

  auto stop = [&](ReplayEnd end, std::string reason, std::int64_t now) {
    if (stopping) return;
    stopping = true;
    summary.end = end;
    summary.end_reason = std::move(reason);
    stop_feed = true;
    engine.stop_admitting();
    drain_deadline = now + opt.drain_timeout_ns;
  };
  auto take = [&] {
    batch.clear();
    engine.take_outcomes(batch);
    for (auto& o : batch) {
      if (!output) break;
      output = recorder.add(std::move(o));
    }
  };

  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    take();
    const std::int64_t now = engine.now_ns();
    if (!output && !stopping) {
      stop(ReplayEnd::Aborted, "run file error: " + output.error().message(), now);
      engine.cancel_inflight();
      cut = true;
    }
    const int interrupts = interrupts_of(opt);
    if (interrupts > 0 && !stopping) stop(ReplayEnd::Interrupted, "interrupted", now);
    if (interrupts > 1 && !cut) {
      engine.cancel_inflight();
      cut = true;
    }
    if (!stopping && now >= next_abort_check) {
      next_abort_check = now + 250 * kMs;
      if (auto reason = recorder.check_abort(now)) stop(ReplayEnd::Aborted, "aborted: " + *reason, now);
    }
    if (!stopping && opt.plan.duration_ns > 0 && now > opt.plan.duration_ns)
      stop(ReplayEnd::Completed, "completed (duration reached)", now);
    if (stopping && !cut && now > drain_deadline) {
      engine.cancel_inflight();
      cut = true;
    }
    if (output) output = recorder.tick(now);
    if (output) output = writer.poll();
    if ((opt.on_status || metrics) && now >= next_status) {
      next_status += 1000 * kMs;
      const auto& c = engine.counters();
      const auto& last = recorder.last_second();
      LiveStatus s;
      s.elapsed_ns = now;
      if (auto end = feed.schedule().end_ns()) s.planned_ns = *end;
      s.stage_level = intensity.level(now);
      if (opt.plan.pacing == Pacing::Rate) s.target_rate = opt.plan.rate_per_s * s.stage_level;
      s.achieved_rate = static_cast<double>(last.outcomes);
      s.inflight = c.inflight;
      s.waiting = c.waiting;
      s.sent = c.sent;
      s.failed = recorder.totals().failed;
      s.shed = c.shed;
      s.p50_ns = last.service.percentile(50);
      s.p99_ns = last.service.percentile(99);
      s.lateness_p99_ns = last.lateness.percentile(99);
      s.totals = &recorder.totals();
      s.counters = &c;
      if (opt.on_status) opt.on_status(s);
      if (metrics) metrics->publish(openmetrics_text(s));
    }
    if (feed_done && engine.finished()) break;
  }
  reader.join();
  take();
  if (output) output = recorder.finish();

  if (!stopping) summary.end_reason = "completed";
  if (!feed_status) {
    summary.end_reason = "trace error: " + feed_status.error().message();
  }
  summary.correlation = engine.correlation_totals();
  summary.tracker = feed.correlation();
  const Status closed = writer.close(summary.end_reason, [&](fb::FooterT& footer) {
    for (const auto& r : summary.correlation.rules) {
      auto stats = std::make_unique<fb::CorrelationRuleStatsT>();
      stats->rule = r.rule;
      stats->automatic = r.automatic;
      stats->learned = r.learned;
      stats->substituted = r.substituted;
      stats->waits = r.waits;
      stats->timeouts = r.timeouts;
      stats->misses = r.misses;
      footer.correlation.push_back(std::move(stats));
    }
    footer.cookies_set = summary.correlation.cookies_set;
    footer.cookie_headers_rewritten = summary.correlation.cookie_headers_rewritten;
  });
  if (!output) return fail(errc::output_error, opt.run_path, output.error().message());
  if (!closed) return fail(errc::output_error, opt.run_path, closed.error().message());
  if (!feed_status) return feed_status.take_error();

  // Run time 0 is 50 ms after the start (the lead): a run that ended before it lasted 0.
  summary.duration_ns = std::max<std::int64_t>(0, engine.now_ns());
  summary.totals = recorder.totals();
  summary.schedule = feed.schedule().stats();
  summary.feed = feed.stats();
  summary.engine = engine.totals();
  summary.run_file = writer.stats();
  return summary;
}

}  // namespace reprise::replay
