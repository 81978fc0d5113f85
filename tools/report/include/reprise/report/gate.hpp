#pragma once
// The release gate: --fail-on rules over a Comparison. Exit 1 when any rule fails.
//
//   p95>+10%          a latency percentile (p50, p90, p95, p99, p99.9 — those compared) rose by
//                     more than 10 %, and significantly (its confidence interval excludes 0)
//   p99>+20ms         ... by more than a duration
//   errors>+0.5pp     the error rate (transport errors and 5xx) rose by more than 0.5
//                     percentage points, and significantly (two-proportion test)
//   status_changes>0  paired requests whose status changed (noise excluded): a count, or a
//                     share of pairs with %
//   error_changes>0   paired requests whose error kind changed: count or %
//   body_diffs>1%     paired responses whose body differs beyond noise: count or %
// Latency and error rules are checked overall and for every route; the others overall. Each
// failure names where it failed and the numbers. A latency rule also fails on a route the base
// has enough values for and the candidate none ("missing in candidate"), and any rule fails when
// it has nothing to evaluate (GateResult::evaluated).

#include <string>
#include <string_view>
#include <vector>

#include "reprise/report/comparison.hpp"
#include "reprise/result.hpp"

namespace reprise::report {

struct GateRule {
  enum class Metric { Latency, Errors, StatusChanges, ErrorChanges, BodyDiffs };
  Metric metric = Metric::Latency;
  double percentile = 0;      // Latency: 0.95 for p95
  bool relative = false;      // Latency: a share (%); else an absolute ns threshold
  bool share = false;         // counts: the threshold is a share of pairs (%)
  double threshold = 0;       // a share in [0,1], a count, ns, or percentage points
  std::string text;           // as given
};

// Parses one rule; the error (errc::bad_rule) says what was wrong and shows the syntax.
Result<GateRule> parse_gate_rule(std::string_view text);

struct GateResult {
  std::string rule;
  bool failed = false;
  // False when the rule had nothing to evaluate: a side without outcomes, no pairs (status and
  // error changes), no compared body (body_diffs), no row with enough values on both sides to
  // call a rise (latency). Such a rule fails: a gate that compared nothing has not passed.
  bool evaluated = true;
  std::vector<std::string> findings;  // "GET /slow: p95 120ms -> 180ms (+50.0%, CI +41%..+62%)"
  std::string summary;                // one line: what was checked and the worst value seen
};

std::vector<GateResult> evaluate_gate(const std::vector<GateRule>& rules, const Comparison& c);

}  // namespace reprise::report
