#pragma once
// Dry run: the plan applied to the trace with nothing sent — how many requests and session
// clones, over how long, and the planned rate per second, with the peak rate and an estimate of
// the peak in-flight count (each request in flight for its recorded response time: Little's law
// per second). Same TraceFeed and Schedule as the real replay, so the numbers are the plan's.

#include <cstdint>
#include <string>
#include <vector>

#include "reprise/replay/plan.hpp"
#include "reprise/replay/target.hpp"
#include "reprise/replay/trace_feed.hpp"
#include "reprise/result.hpp"

namespace reprise::replay {

struct DryRunReport {
  std::uint64_t requests = 0;
  std::uint64_t session_clones = 0;        // admitted
  std::int64_t last_due_ns = 0;            // the planned duration
  std::vector<std::uint64_t> per_second;   // requests due in each second (at most kMaxSeconds)
  bool per_second_truncated = false;
  std::uint64_t peak_rate = 0;             // the busiest second
  double peak_inflight = 0;                // estimate, busiest second
  // --rate max --loop: nothing is scheduled in time, so the loop would not end here; one pass
  // is counted, which the run repeats until --duration.
  bool one_pass_of_loop = false;
  FeedStats feed;
  ScheduleStats schedule;

  static constexpr std::size_t kMaxSeconds = 7 * 24 * 3600;
};

Result<DryRunReport> dry_run(const std::string& trace_path, const Plan& plan, const Target& target);

// The per-second counts as a sparkline of at most `width` characters (each one the peak of the
// seconds it covers), in the block characters ▁▂▃▄▅▆▇█.
std::string sparkline(const std::vector<std::uint64_t>& values, std::size_t width);

}  // namespace reprise::replay
