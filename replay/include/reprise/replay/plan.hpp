#pragma once
// Plan: everything that decides what a replay sends and when, and the limits it sends under.
// Filled by the CLI from flags; validated here so a library user gets the same checks. Every
// limit has a safe default: a plan with nothing set replays the trace once, as recorded, with
// at most 256 requests in flight.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "reprise/replay/correlation_settings.hpp"
#include "reprise/replay/rewrites.hpp"
#include "reprise/result.hpp"

namespace reprise::replay {

// One ramp stage: over `duration_ns` the level moves linearly from the previous stage's level
// (0 before the first stage) to `level` (1.0 = 100 %). A zero duration is a step.
struct Stage {
  std::int64_t duration_ns = 0;
  double level = 1.0;
};

// "30s:10%", "2m:300%", "0s:50%".
Result<Stage> parse_stage(std::string_view text);

enum class Pacing : std::uint8_t {
  Recorded,  // recorded gaps divided by speed
  Rate,      // a fixed open-loop arrival rate (scaled by the stage level)
  Max,       // as fast as the limits allow (saturation)
};

enum class ConnectionMode : std::uint8_t {
  Pool,         // keep-alive connections shared by every request
  PerRecorded,  // one connection per recorded connection (per clone and pass)
};

struct Plan {
  // What and when.
  Pacing pacing = Pacing::Recorded;
  double speed = 1.0;                      // Recorded: recorded gaps are divided by this
  double rate_per_s = 0;                   // Rate: arrivals per second at level 100 %
  double multiplier = 1.0;                 // session clones (DESIGN.md "Replay")
  std::int64_t clone_spread_ns = 1'000'000'000;  // clones 1.. start up to this much later
  std::uint64_t seed = 1;                  // clone ranks and offsets
  std::vector<Stage> stages;               // empty: level 100 % throughout
  bool loop = false;                       // repeat the trace until the stages or duration end
  std::int64_t duration_ns = 0;            // 0: no cap
  std::uint32_t shard_index = 0;           // this process replays shard i of n
  std::uint32_t shard_count = 1;

  // Limits (all on by default).
  std::uint32_t max_inflight = 256;
  std::uint32_t max_connections = 256;
  double max_rate_per_s = 0;                          // 0: no cap beyond the pacing
  std::int64_t max_lateness_ns = 5'000'000'000;       // held back longer: shed
  ConnectionMode connections = ConnectionMode::Pool;
  std::int64_t connect_timeout_ns = 5'000'000'000;
  std::int64_t request_timeout_ns = 30'000'000'000;
  std::int64_t idle_timeout_ns = 4'000'000'000;       // pooled connections idle longer close
  bool strict_session_order = false;                  // next request after the previous answer
  std::uint64_t max_sessions = 250'000;               // session state kept by the schedule (~120 B each)

  // Which recorded requests are sent, and what is changed in them (rewrites.hpp).
  Rewrites rewrites;

  // How each session clone stays a coherent user: cookies, learned values, clone identity.
  CorrelationSettings correlation;

  // The number of clones each recorded session is expanded to: ceil(multiplier x peak level),
  // at least 1.
  std::uint32_t clones() const;
  // The peak stage level (1.0 without stages).
  double peak_level() const;
  // The total of the stage durations (0 without stages).
  std::int64_t stages_ns() const;

  // Checks ranges and combinations; the error (errc::bad_plan) names the flag.
  Status validate() const;
  // The plan as JSON (stored in the run file header).
  std::string to_json() const;
};

}  // namespace reprise::replay
