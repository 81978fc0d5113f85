#pragma once
// Intensity: the stage level over run time, and for rate pacing the arrival times it implies.
// Pure maths, no clock: run time is ns since the run started.
//
// level(t) is linear within a stage, from the previous stage's level (0 before the first) to the
// stage's own; without stages it is 1. For rate pacing the arrival rate at t is rate x level(t),
// so the n-th arrival (0-based) is due at the t where rate x integral(level, 0..t) = n: an open
// loop whose count at any time is fixed in advance and never drifts.

#include <cstdint>
#include <optional>
#include <vector>

#include "reprise/replay/plan.hpp"

namespace reprise::replay {

class Intensity {
 public:
  explicit Intensity(const Plan& plan);

  // The stage level at run time t; after the last stage, the last stage's level.
  double level(std::int64_t t_ns) const;
  // True when there are stages and t is at or past their end.
  bool past_stages(std::int64_t t_ns) const;
  // Rate pacing: when the n-th arrival is due, or nullopt when it falls after the stages end.
  std::optional<std::int64_t> arrival_ns(std::uint64_t n) const;

 private:
  struct Segment {
    std::int64_t start_ns, duration_ns;
    double from, to;
    double area_before;  // integral of level over [0, start) in level x seconds
  };
  std::vector<Segment> segments_;
  double rate_ = 0;
};

}  // namespace reprise::replay
