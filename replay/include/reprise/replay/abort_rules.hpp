#pragma once
// Abort rules: conditions over a sliding window of the run that stop a replay (exit 3).
//
// Syntax, one rule per --abort-on:  METRIC > THRESHOLD / WINDOW
//   errors>20%/10s            failed outcomes (transport errors and 5xx) as a share of outcomes
//   errors>100/10s            ... or as a count
//   p99>2s/30s                latency percentile from the actual send (pNN, pNN.N: p99.9)
//   corrected_p99>5s/30s      latency percentile from the intended send time
//   lateness_p99>1s/10s       generator lateness percentile (the generator cannot keep up)
//   connect_failures>50/5s    connect errors, count (or % of outcomes)
//   shed>1%/10s               requests shed by the limits, count or %
//   timeouts>5%/10s           request timeouts, count or %
// Units as everywhere in reprise: durations 250ms/2s/1m, shares with %. The window is at least
// 1 s and at most 10 min, in whole seconds (rounded up).
//
// Ratio rules only fire once the window holds at least `min_samples` outcomes (default 20), so
// one early failure is not "100 % errors"; percentile rules once it holds at least `min_samples`
// values of their histogram (responses, or sent requests for lateness), so two slow responses
// among many failures are not a p99. Once the run is as old as a rule's window, 10 samples
// (or min_samples, if lower) are enough: else a run at 1 request/s, which never has 20 in a
// 10 s window, could not be stopped by its error rate. Count rules fire on the count alone.
//
// AbortGuard is sans-I/O: outcomes and the current time come in, a reason comes out. It keeps
// one IntervalStats per second of the longest window (bounded memory).

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "reprise/replay/interval_stats.hpp"
#include "reprise/result.hpp"

namespace reprise::replay {

struct AbortRule {
  enum class Metric { Errors, Latency, CorrectedLatency, Lateness, ConnectFailures, Shed, Timeouts };
  Metric metric = Metric::Errors;
  double percentile = 0;        // latency metrics: 99 for p99, 99.9 for p99.9
  bool share = false;           // threshold is a share of outcomes (given with %)
  double threshold = 0;         // a share in [0,1], a count, or ns for latency metrics
  std::int64_t window_ns = 0;   // whole seconds
  std::string text;             // as given, for messages ("errors>20%/10s")
};

// Parses one rule; the error (replay::errc::bad_rule) says what was wrong and shows the syntax.
Result<AbortRule> parse_abort_rule(std::string_view text);

// The rules that are on unless --no-default-aborts:
// errors>20%/10s, p99>2s/30s, lateness_p99>1s/10s, connect_failures>50/5s.
std::vector<AbortRule> default_abort_rules();

class AbortGuard {
 public:
  explicit AbortGuard(std::vector<AbortRule> rules, std::uint64_t min_samples = 20);

  // An outcome that ended at o.done_ns (run time, ns). Outcomes older than the windows are
  // ignored; they may arrive slightly out of order.
  void add(const OutcomeFacts& o);
  // Evaluates every rule over the window ending at `now_ns`; returns the first rule that holds,
  // as a reason: "errors>20%/10s: 34.5% of 1200 outcomes in the last 10s".
  std::optional<std::string> check(std::int64_t now_ns);

  const std::vector<AbortRule>& rules() const { return rules_; }

 private:
  std::vector<AbortRule> rules_;
  std::uint64_t min_samples_;
  std::int64_t max_window_s_ = 1;
  std::deque<IntervalStats> seconds_;  // consecutive seconds, oldest first
  Histogram scratch_;                  // a window's merged histogram, reused by check()

  void advance_to(std::int64_t second);
};

}  // namespace reprise::replay
