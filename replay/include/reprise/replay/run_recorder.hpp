#pragma once
// RunRecorder: outcomes in, the run file and the statistics out. It writes each outcome as a
// record, files it under the second it ended in, writes each second's IntervalStats as an
// interval frame once that second can no longer receive outcomes, keeps the run's totals, and
// feeds the abort rules. Time is passed in (run ns); no clock is read here.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "reprise/format/writer.hpp"
#include "reprise/replay/abort_rules.hpp"
#include "reprise/replay/engine.hpp"
#include "reprise/replay/interval_stats.hpp"

namespace reprise::replay {

// IntervalStats <-> the run file's Interval table.
format::fb::IntervalT to_record(const IntervalStats& s);
IntervalStats from_record(const format::fb::Interval& i);

class RunRecorder {
 public:
  // `writer` may be null (statistics only).
  RunRecorder(format::Writer* writer, std::vector<AbortRule> rules);

  Status add(EngineOutcome&& outcome);
  // Writes the intervals that ended more than `settle_ns` before `now_ns` (outcomes reach the
  // recorder within milliseconds of their done time, so a quarter second is ample).
  Status tick(std::int64_t now_ns, std::int64_t settle_ns = 250'000'000);
  // Writes every interval still open.
  Status finish();

  std::optional<std::string> check_abort(std::int64_t now_ns) { return guard_.check(now_ns); }

  const IntervalStats& totals() const { return totals_; }
  // The last whole second written (for the live status line); empty before the first.
  const IntervalStats& last_second() const { return last_second_; }

 private:
  Status write_interval(const IntervalStats& s);

  format::Writer* writer_;
  AbortGuard guard_;
  IntervalStats totals_;
  IntervalStats last_second_;
  std::map<std::int64_t, std::unique_ptr<IntervalStats>> open_;  // by second
  format::fb::OutcomeT record_;
};

}  // namespace reprise::replay
