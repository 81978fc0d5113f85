#pragma once
// Report: what one test did (one run, or its shards merged), overall, per route and per second.
//
// ReportBuilder is sans-I/O: outcomes go in (OutcomeView, on the set's clock), a Report comes
// out. Everything is exact: counts add, histograms merge bucket by bucket, so the report of the
// shards of a test is the report of the whole test.

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "reprise/replay/interval_stats.hpp"
#include "reprise/report/route_namer.hpp"
#include "reprise/report/run_set.hpp"

namespace reprise::report {

// The numbers of a group of outcomes. `stats` is the replay's IntervalStats (counts by status
// class and error kind, corrected/service/lateness histograms); `late` counts sent requests
// whose lateness exceeded the report's threshold.
struct Tally {
  replay::IntervalStats stats;
  std::uint64_t late = 0;
};

struct RouteReport {
  std::string route;  // "GET /users/{id}"
  Tally tally;
};

// One second of the timeline (by done time): counts and a few latency percentiles. Kept small
// (no full histograms) so an hour-long run's timeline costs kilobytes, not gigabytes.
struct SecondStats {
  std::int64_t start_ns = 0;
  std::uint64_t outcomes = 0, sent = 0, failed = 0, shed = 0;
  std::array<std::uint64_t, 6> status_classes{};
  std::uint64_t responses = 0;  // outcomes that fed the latency percentiles
  std::int64_t p50_ns = 0, p90_ns = 0, p99_ns = 0, max_ns = 0;  // corrected latency
};

struct Report {
  std::vector<RunFileInfo> files;
  std::vector<std::string> warnings;
  std::string end_reason;       // RunSet::end_reason()
  std::int64_t epoch_unix_ns = 0;
  std::int64_t first_ns = 0;    // earliest intended send (set clock)
  std::int64_t last_ns = 0;     // latest done
  std::int64_t late_threshold_ns = 0;
  Tally overall;
  std::vector<RouteReport> routes;            // most requests first
  std::vector<SecondStats> seconds;           // by done time, every second from first_ns
  std::uint64_t routes_folded = 0;            // outcomes counted under RouteNamer::kOther

  double duration_s() const { return last_ns > first_ns ? static_cast<double>(last_ns - first_ns) / 1e9 : 0; }
  double achieved_rate() const {  // sent requests per second
    const double d = duration_s();
    return d > 0 ? static_cast<double>(overall.stats.sent) / d : 0;
  }
};

struct ReportOptions {
  std::vector<RouteRule> routes;       // --route
  std::size_t max_routes = 500;
  std::int64_t late_threshold_ns = 10'000'000;  // lateness past this counts as late
  std::size_t max_seconds = 86'400;   // timeline length limit; later seconds fold into the last
};

class ReportBuilder {
 public:
  explicit ReportBuilder(ReportOptions options = {});

  // The route name of the outcome (the namer is shared so compare names routes the same way).
  const std::string& route_of(const OutcomeView& o);
  void add(const OutcomeView& o);
  // Under a route named elsewhere (compare's own namer); RouteNamer::kOther counts as folded.
  void add(const OutcomeView& o, const std::string& route);
  // Completes the report: files, warnings and the end reason come from the set.
  Report finish(const RunSet& set);

 private:
  SecondStats close_second(std::int64_t second) const;

  ReportOptions options_;
  RouteNamer namer_;
  Tally overall_;
  std::map<std::string, Tally> routes_;
  struct SecondAccumulator {
    SecondStats counts;
    std::map<std::uint32_t, std::uint64_t> corrected;  // sparse histogram buckets
    std::int64_t max_ns = 0;
  };
  std::map<std::int64_t, SecondAccumulator> seconds_;
  std::int64_t first_ns_ = 0, last_ns_ = 0;
  std::uint64_t folded_ = 0;  // outcomes added under RouteNamer::kOther
  bool any_ = false;
};

// Reads a whole set into a report.
Result<Report> build_report(RunSet& set, const ReportOptions& options);

}  // namespace reprise::report
