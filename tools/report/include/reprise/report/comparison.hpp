#pragma once
// Comparison: what changed between a base test and a candidate test that replayed the same trace.
//
// Comparer is sans-I/O; outcomes go in by phase:
//   1. add_base()       every base outcome (kept compactly, bodies deduplicated by digest)
//   2. end_base()       clones of one exchange in the base are compared with each other: noise
//   3. add_noise()      outcomes of a second baseline (--noise), paired with the base: noise
//      add_recorded()   responses recorded in the trace (--trace), paired with base clone 0: noise
//   4. add_candidate()  every candidate outcome, paired with the base by (exchange, clone, pass)
//   5. finish()
//
// Latency: per route and overall, percentile deltas of corrected latency with confidence
// intervals (quantile_interval.hpp). Behaviour, on pairs: status changes, error changes, and for
// pairs with equal status, body differences by field (json_diff.hpp).
//
// Noise (after Diffy): every difference has a key (route, what: a field path, "(status)" or
// "(body)"). The noise samples (clone pairs, second baseline, trace) give a rate for the same
// key. A difference is noise when the noise samples show it at least half as often as the
// candidate does — a timestamp differs in every pair on both sides; a changed price differs in
// the candidate only. --ignore-field removes paths outright.
//
// Limits: latency samples per route and side (reservoir beyond it, counted and warned about; the
// overall row keeps four times as many), body memory (bodies beyond it are compared by digest
// only, counted), routes (RouteNamer, folding counted in each side's Report), examples per
// finding. A body longer than the run kept (replay --keep-bodies) is compared by its digest,
// which covers the whole body, never by its kept prefix: counted, with a warning.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "reprise/report/error.hpp"
#include "reprise/report/json_diff.hpp"
#include "reprise/report/quantile_interval.hpp"
#include "reprise/report/report.hpp"

namespace reprise::report {

struct CompareOptions {
  ReportOptions report;                     // routes, late threshold
  std::vector<std::string> ignore_fields;   // --ignore-field
  std::vector<double> percentiles = {0.50, 0.90, 0.95, 0.99, 0.999};
  QuantileCompareOptions latency;           // min samples, min change
  std::size_t max_latency_samples = 1'000'000;  // per route and side
  std::size_t max_body_memory = std::size_t{256} << 20;
  double noise_ratio = 0.5;                 // noise rate >= ratio * candidate rate -> noise
};

// An error-rate comparison: failed outcomes (transport errors and 5xx) per outcome.
struct RateDelta {
  std::uint64_t base_failed = 0, base_total = 0, candidate_failed = 0, candidate_total = 0;
  double base_rate() const { return base_total ? double(base_failed) / double(base_total) : 0; }
  double candidate_rate() const {
    return candidate_total ? double(candidate_failed) / double(candidate_total) : 0;
  }
  double delta_pp() const { return 100 * (candidate_rate() - base_rate()); }
  // A two-proportion z test at 5 %: +1 significantly more errors, -1 fewer, 0 neither.
  int direction() const;
};

struct RouteComparison {
  std::string route;  // "(all)" for the overall row
  std::vector<QuantileDelta> latency;  // one per CompareOptions::percentiles
  RateDelta errors;
  std::uint64_t pairs = 0;
  std::uint64_t status_changes = 0;  // pairs whose status changed (not noise)
  std::uint64_t bodies_compared = 0; // pairs with equal status whose bodies were compared
  std::uint64_t bodies_differing = 0;// ... that differ in a way that is not noise
};

// A counted difference and the same difference among the noise samples.
struct DiffCount {
  std::uint64_t differing = 0, compared = 0;              // candidate vs base
  std::uint64_t noise_differing = 0, noise_compared = 0;  // noise samples
  bool noise = false;
  double rate() const { return compared ? double(differing) / double(compared) : 0; }
  double noise_rate() const { return noise_compared ? double(noise_differing) / double(noise_compared) : 0; }
};

struct Example {
  std::uint64_t exchange_id = 0;
  std::uint32_t clone = 0, iteration = 0;
  std::string target;  // the request target
  std::string base, candidate;  // the values (fields) or status/error names
};

struct FieldDiff {
  std::string route;
  std::string path;  // "$.items[*].price", kWholeBody
  DiffCount count;
  std::vector<Example> examples;  // up to 3
};

struct StatusChange {
  std::string route;
  std::uint16_t from = 0, to = 0;
  std::uint64_t count = 0;
  bool noise = false;  // the route's status also changes among noise samples
  std::vector<Example> examples;
};

struct ErrorChange {
  std::string route;
  std::string from, to;  // error kind names ("none", "timeout", ...)
  std::uint64_t count = 0;
  std::vector<Example> examples;
};

struct Comparison {
  Report base, candidate;
  std::vector<std::string> noise_sources;  // "2 clones per exchange", "second baseline: F", "trace"
  std::vector<std::string> warnings;
  std::uint64_t pairs = 0, base_unpaired = 0, candidate_unpaired = 0;
  std::uint64_t noise_pairs = 0;
  std::uint64_t bodies_compared = 0, bodies_differing = 0;  // not noise
  std::uint64_t bodies_digest_only = 0;  // a body was not kept (or over the memory limit, or cut)
  std::uint64_t bodies_cut = 0;          // ... of them because a body was longer than --keep-bodies
  std::uint64_t latency_samples_dropped = 0;          // values left out of a route's sample
  std::uint64_t overall_latency_samples_dropped = 0;  // ... out of the overall row's sample
  std::uint64_t status_changes = 0;  // not noise
  std::uint64_t error_changes = 0;
  RouteComparison overall;
  std::vector<RouteComparison> routes;     // as base report order
  std::vector<FieldDiff> fields;           // differences first (most pairs), then noise
  std::vector<StatusChange> statuses;      // most first
  std::vector<ErrorChange> errors;         // most first
};

// Every warning of a comparison, the comparison's then each side's (the text and the HTML show
// this list; the JSON keeps each side's in its own report).
std::vector<std::string> compare_warnings(const Comparison& c);

// errc::empty_run, naming the side's file, when the base or the candidate has no outcome at all
// (a run file with a header only, as a replay killed before its first block leaves): nothing was
// compared, which is empty input, not a pass. Success otherwise.
inline Status check_compared(const Comparison& c) {
  for (const Report* side : {&c.base, &c.candidate}) {
    if (side->overall.stats.outcomes > 0) continue;
    const std::string role = side == &c.base ? "base" : "candidate";
    return fail(errc::empty_run, side->files.size() == 1 ? side->files.front().path : role,
                "the " + role + " has no outcomes (a run file with a header only: was the replay " +
                    "killed?); nothing was compared");
  }
  return {};
}

class Comparer {
 public:
  explicit Comparer(CompareOptions options);
  ~Comparer();
  Comparer(const Comparer&) = delete;
  Comparer& operator=(const Comparer&) = delete;

  void add_base(const OutcomeView& o);
  void end_base();
  void add_noise(const OutcomeView& o);
  void add_recorded(std::uint64_t exchange_id, std::uint16_t status,
                    std::span<const std::uint8_t> body);
  void add_candidate(const OutcomeView& o);
  void add_noise_source(std::string description);
  Comparison finish(const RunSet& base, const RunSet& candidate);

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// The error kind's name as run files and reports spell it ("none", "timeout", "shed").
std::string error_name(replay::OutcomeError e);

}  // namespace reprise::report
