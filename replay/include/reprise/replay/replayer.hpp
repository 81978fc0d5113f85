#pragma once
// Replayer: one replay from start to finish — the trace read on a thread of its own (TraceFeed),
// the network on the engine's thread, and on the calling thread the run file, the statistics,
// the abort rules, the live status and the response to interrupts.
//
// Ending, and the run file's end_reason:
//   completed            every planned request has an outcome
//   aborted: RULE ...    an abort rule held: admission stops, in-flight requests drain for up
//                        to drain_timeout, then are cut (Aborted); exit 3
//   interrupted          first interrupt: the same drain; a second interrupt cuts at once
// In every case the run file is closed with its footer, so it is complete and valid.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "reprise/format/writer.hpp"
#include "reprise/replay/abort_rules.hpp"
#include "reprise/replay/engine.hpp"
#include "reprise/replay/plan.hpp"
#include "reprise/replay/schedule.hpp"
#include "reprise/replay/target.hpp"
#include "reprise/replay/trace_feed.hpp"
#include "reprise/result.hpp"

namespace reprise::replay {

// What the live status line and the metrics endpoint show; sampled about once a second.
struct LiveStatus {
  std::int64_t elapsed_ns = 0;
  std::int64_t planned_ns = 0;  // 0: unknown (runs until the trace ends)
  double stage_level = 1.0;
  double target_rate = 0;       // requests per second the plan asks for now (0: unknown)
  double achieved_rate = 0;     // outcomes in the last whole second
  std::uint32_t inflight = 0;
  std::uint64_t waiting = 0;
  std::uint64_t sent = 0;
  std::uint64_t failed = 0;
  std::uint64_t shed = 0;
  std::int64_t p50_ns = 0, p99_ns = 0;        // last whole second, from the actual send
  std::int64_t lateness_p99_ns = 0;           // last whole second
  const IntervalStats* totals = nullptr;      // the run so far (valid during the callback)
  const EngineCounters* counters = nullptr;
};

struct ReplayOptions {
  std::string trace_path;          // "-": standard input
  std::string run_path;            // "-": standard output
  Plan plan;
  Target target;
  std::vector<AbortRule> abort_rules;
  std::int64_t drain_timeout_ns = 10'000'000'000;
  std::size_t keep_body = 64 * 1024;
  std::int64_t start_at_unix_ns = 0;  // 0: start now
  std::string trace_identity;         // stored in the run header (RunInfo.trace_digest)
  std::string trace_source;           // stored as RunInfo.trace_path
  format::WriterOptions writer;
  // HOST:PORT to serve OpenMetrics on during the run (MetricsServer); empty: none.
  std::string metrics_listen;
  // Called on the calling thread about once a second.
  std::function<void(const LiveStatus&)> on_status;
  // Interrupt requests (SIGINT/SIGTERM), counted by the caller's signal handler.
  const std::atomic<int>* interrupts = nullptr;
};

enum class ReplayEnd { Completed, Aborted, Interrupted };

struct ReplaySummary {
  ReplayEnd end = ReplayEnd::Completed;
  CorrelationTotals correlation;    // per rule, and the cookie jars
  TrackerStats tracker;             // what the trace's recorded values looked like
  std::string end_reason;
  std::int64_t duration_ns = 0;
  IntervalStats totals;
  ScheduleStats schedule;
  FeedStats feed;
  EngineTotals engine;
  format::WriterStats run_file;
  std::string run_path;
};

// Correlation rules before a replay: with correlation on and detection asked for, detection
// over the trace file (not standard input) adds the rules it finds to the plan's, after
// the --correlate ones (a rule given both ways is kept once, as given). Returns what detection
// found (empty when it did not run).
Result<Detection> add_detected_rules(const std::string& trace_path, Plan& plan, const Target& target);

// Runs the replay. Errors before anything is sent (target does not resolve, trace unreadable,
// run file cannot be created, bad plan) come back as an Error; after the start, reading errors
// end the run (recorded) and are returned after the run file is closed.
Result<ReplaySummary> run_replay(const ReplayOptions& options);

// A hex identity of a trace for RunInfo.trace_digest: digest64 of its header's creation time,
// epoch and source, so runs of one trace can be matched (compare refuses runs of different
// traces).
std::string trace_identity(const format::fb::FileHeader& header);

}  // namespace reprise::replay
