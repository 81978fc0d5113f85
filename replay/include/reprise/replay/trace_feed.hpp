#pragma once
// TraceFeed: reads a trace and feeds its requests to a Schedule, pass after pass when the plan
// loops, handing each request that comes out to a sink. Used by the replay's reader thread and
// by the dry run, so both plan exactly the same requests.
//
// Exchanges that cannot be replayed faithfully are skipped and counted, never sent half: no
// request (a response seen alone), a request that did not finish or whose body capture cut
// (RequestIncomplete, RequestBodyTruncated), and protocol switches (Upgrade/CONNECT). Requests
// the plan's filters leave out (rewrites.hpp) are counted by reason; the rest are rewritten and
// passed through the CorrelationTracker, whose verdict travels with the request.
//
// With Plan::loop the first pass is kept in memory, up to a limit (kLoopCacheBytes by default),
// and the later passes come from there rather than from the file: after the first pass the
// reader thread needs under a third of the CPU per request (measured at --rate max: 7 % of a
// core down to 2 %). A longer trace is read again each pass (the overflow is counted), so
// memory stays bounded whatever its size.

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "reprise/replay/correlation_tracker.hpp"
#include "reprise/replay/schedule.hpp"
#include "reprise/replay/value_detector.hpp"
#include "reprise/replay/target.hpp"
#include "reprise/result.hpp"

namespace reprise::replay {

struct FeedStats {
  std::uint64_t exchanges = 0;           // read from the trace, all passes
  std::uint64_t skipped_no_request = 0;
  std::uint64_t skipped_incomplete = 0;  // request incomplete or body truncated at capture
  std::uint64_t skipped_upgrade = 0;
  std::uint64_t filtered_method = 0;     // left out by --method
  std::uint64_t filtered_unsafe = 0;     // left out by --skip-unsafe
  std::uint64_t filtered_path = 0;       // left out by --include-path / --exclude-path
  std::uint64_t passes_from_memory = 0;  // loop passes replayed from the kept first pass
  std::uint64_t loop_cache_overflows = 0;  // 1: the first pass was too big to keep

  std::uint64_t skipped() const { return skipped_no_request + skipped_incomplete + skipped_upgrade; }
  std::uint64_t filtered() const { return filtered_method + filtered_unsafe + filtered_path; }
};

// A recorded response as the correlation rules see it (views into the record).
ResponseView response_view(const format::fb::Response& response);

// Automatic correlation detection (value_detector.hpp) over the exchanges of a trace file that
// the plan replays (filters applied, requests as they will be sent): the first
// CorrelationSettings::detect_exchanges of them.
struct Detection {
  std::vector<DetectedRule> rules;
  std::uint64_t exchanges = 0;  // exchanges looked at
  bool complete = true;         // false: the trace is longer than detect_exchanges
  bool from_stdin = false;      // not run: a trace on standard input can be read only once
};
Result<Detection> detect_correlation(const std::string& trace_path, const Plan& plan,
                                     const Target& target);

class TraceFeed {
 public:
  // `sink` gets each scheduled request; returning false stops the feed (the engine stops).
  using Sink = std::function<bool(ScheduledRequest&&)>;

  static constexpr std::size_t kLoopCacheBytes = std::size_t{64} << 20;

  TraceFeed(std::string trace_path, const Plan& plan, Target target,
            std::size_t loop_cache_limit = kLoopCacheBytes);

  // Reads until the schedule is done (or the sink refuses, or `stop` becomes true), then
  // finishes the schedule and drains it into the sink. Errors: reading the trace (the format
  // library's error: file and offset), or looping over standard input.
  Status run(const Sink& sink, const std::atomic<bool>* stop = nullptr);

  const Schedule& schedule() const { return schedule_; }
  const FeedStats& stats() const { return stats_; }
  // Of the exchanges the tracker saw: the first pass only when the later ones came from memory.
  TrackerStats correlation() const { return tracker_.stats(); }

 private:
  // An exchange of the first pass as the later passes replay it: the request, or why it is
  // skipped (a Skip value in trace_feed.cpp), so every pass counts the same.
  struct CachedExchange {
    TraceRequest request;
    std::uint8_t skip = 0;
  };
  static std::size_t cached_bytes(const TraceRequest& r);

  std::string path_;
  Plan plan_;
  Target target_;
  Schedule schedule_;
  CorrelationTracker tracker_;
  FeedStats stats_;
  std::size_t loop_cache_limit_;
};

}  // namespace reprise::replay
