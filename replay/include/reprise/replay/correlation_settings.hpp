#pragma once
// CorrelationSettings: how a replay keeps each session clone a coherent user (part of the Plan).
// On by default: each clone has its own cookie jar (cookie_jar.hpp) and its own learned values
// (correlation_tracker.hpp, session_clones.hpp); --no-correlate sends recorded requests verbatim.

#include <cstdint>
#include <vector>

#include "reprise/replay/clone_rewrite.hpp"
#include "reprise/replay/correlation_rule.hpp"

namespace reprise::replay {

struct CorrelationSettings {
  bool enabled = true;        // --no-correlate: false (no jar, no learned values)
  bool detect = true;         // automatic detection over the trace file before the run
  std::vector<CorrelationRule> rules;             // --correlate rules, then detected ones
  std::vector<CloneRewrite> clone_rewrites;       // --clone-rewrite
  // --correlation-timeout: longest wait for a value. Below --max-lateness (5s), so a request
  // whose value is slow to come is sent with the recorded one (flagged), not shed.
  std::int64_t timeout_ns = 2'000'000'000;
  TokenShape shape;                               // what detection takes for an identifier
  std::uint64_t detect_exchanges = 200'000;       // detection reads at most this many exchanges
  std::size_t max_values_per_session = 256;       // recorded values followed per session
  std::size_t max_tracked_sessions = 100'000;     // sessions whose values are followed
  std::size_t max_clones = 100'000;               // clone states (jar, values) kept at replay
  std::size_t max_clone_bytes = 256u << 20;       // ... and their bytes, all clones together
  std::size_t max_value_bytes = 8192;             // a longer learned value is not used
  std::size_t max_response_bytes = 1 << 20;       // response body read for values (per response)
};

}  // namespace reprise::replay
