#pragma once
// Schedule: recorded requests in, planned sends out — what to send, as which session clone, at
// what run time. Pure: no clock, no sockets, no file; the caller feeds the trace and pops.
//
// The model (DESIGN.md "Replay"): every recorded session is expanded to Plan::clones() clones.
// Clone k of session s in pass i has a rank u in [0,1) and, for k >= 1, a start offset in
// (0, clone_spread], both from a seeded hash of (s, k, i); clone 0 keeps the recorded start.
// The clone is admitted — whole, every request of it — when k + u < intensity at the time its
// first request is due (intensity = multiplier x stage level; for rate and max pacing the stage
// level scales the rate instead, so admission uses the multiplier alone). x1 is therefore the
// recording exactly once; x2.5 is every session twice and half of them a third time.
//
// Times: recorded pacing puts a request at base = (recorded - recorded0 + i x period) / speed,
// plus its clone's offset — an absolute schedule that cannot drift. Rate pacing keeps that order
// and gives the n-th request the n-th arrival time of Intensity; max pacing gives every request
// due 0 (send when the limits allow).
//
// Release: offsets are >= 0, so once input has been fed up to base b nothing fed later can be
// due before b; pop() hands out requests due up to that watermark, in due order. Memory holds
// the requests between the watermark and watermark + clone_spread, plus one entry per live
// session (bounded by Plan::max_sessions: the sessions idle longest are forgotten first, and
// counted; one that comes back is decided again, as a new session).
//
// Sharding: a clone belongs to shard hash(s, k, i) mod N; N processes with the same plan and
// shard i/N each replay a disjoint part, and together exactly what one process would.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "reprise/replay/intensity.hpp"
#include "reprise/replay/plan.hpp"

namespace reprise::replay {

struct RequestCorrelation;  // correlation_tracker.hpp

// What the engine needs to send one recorded request. `wire` is the request as sent (built
// once per recorded exchange, shared by its clones); the schedule never looks inside it.
struct TraceRequest {
  std::uint64_t exchange_id = 0;
  std::uint64_t session_id = 0;
  std::uint64_t connection_id = 0;
  std::int64_t recorded_ns = 0;          // request first byte, trace time
  std::int64_t recorded_latency_ns = 0;  // response last byte - request first byte (0: none)
  bool head = false;                     // a HEAD request: its response has no body
  bool idempotent = false;               // GET, HEAD, PUT, ... (reprise::is_idempotent)
  std::shared_ptr<const std::string> wire;
  // What makes it a clone's own (values, cookies, clone fields); null: sent as is. Set with
  // attach_correlation() (correlation_tracker.hpp), which copies the two facts below: the
  // network thread checks them for every request without reading the object, which the
  // reader thread wrote on another core.
  std::shared_ptr<const RequestCorrelation> correlation;
  bool producer = false;        // its answer carries values later requests need
  bool clone_invariant = true;  // every clone sends it as is: nothing to substitute or rewrite
};

// The identity of a session clone: session `session`, clone `clone`, pass `iteration`.
std::uint64_t session_clone_key(std::uint64_t session, std::uint32_t clone, std::uint32_t iteration);

struct ScheduledRequest {
  std::int64_t due_ns = 0;  // run time when it should be sent
  std::uint64_t order = 0;  // position in the replay order (ties in due_ns)
  std::uint32_t clone = 0;
  std::uint32_t iteration = 0;
  TraceRequest request;
  // Engine state: the request was made its clone's own (request.wire is the clone's), and how
  // (CorrelationFlag bits, session_clones.hpp).
  bool prepared = false;
  std::uint8_t correlation_flags = 0;
  // When waiting for learned values gives up: set at its first wait, so a request that waits for
  // several producers in turn waits at most the correlation timeout in all (0: never waited).
  std::int64_t correlation_deadline_ns = 0;

  // The identity of this request's session clone, and of its recorded connection's clone.
  std::uint64_t session_key() const;
  std::uint64_t connection_key() const;
};

struct ScheduleStats {
  std::uint64_t input_requests = 0;     // pushed, all passes
  std::uint64_t sessions = 0;           // session clones decided
  std::uint64_t clones_admitted = 0;    // ... admitted (this shard)
  std::uint64_t clones_below_level = 0; // ... not admitted: k + u >= intensity
  std::uint64_t clones_other_shard = 0; // ... admitted but another shard's
  std::uint64_t clones_past_end = 0;    // ... would start after the run's end
  std::uint64_t planned = 0;            // requests handed out by pop()
  std::uint64_t past_end = 0;           // requests of admitted clones due after the end
  std::uint64_t sessions_forgotten = 0; // session state dropped at max_sessions
  std::uint32_t passes = 0;             // completed passes over the trace
};

class Schedule {
 public:
  explicit Schedule(const Plan& plan);

  // Input: the trace's requests in trace order (non-decreasing recorded_ns). Taken by value:
  // the last clone gets the request moved in, the others a copy.
  void push(TraceRequest r);
  // The trace has ended. With Plan::loop the caller feeds it again (the next pass) unless
  // input_done(); without loop this is the end of input.
  void end_pass();
  // No more input will come (end of trace without loop, or the caller stops).
  void finish();

  // True when further input cannot produce anything: finished, or every request it could hold
  // would be due after the end (duration, stages) of the run.
  bool input_done() const;
  // The next request in due order, once no later input can precede it; nullopt otherwise.
  std::optional<ScheduledRequest> pop();
  // Nothing more will ever come out.
  bool done() const { return input_done() && heap_.empty(); }
  // Requests held between input and output.
  std::size_t pending() const { return heap_.size(); }

  // The run time at which the run ends by plan (duration or stages; with neither and no loop,
  // when the trace ends: nullopt).
  std::optional<std::int64_t> end_ns() const { return end_ns_; }

  const ScheduleStats& stats() const { return stats_; }

  // The deterministic draws, exposed for tests: rank in [0,1), offset in [1, spread] ns, shard.
  static double clone_rank(std::uint64_t seed, std::uint64_t session, std::uint32_t clone,
                           std::uint32_t iteration);
  static std::int64_t clone_offset_ns(std::uint64_t seed, std::uint64_t session,
                                      std::uint32_t clone, std::uint32_t iteration,
                                      std::int64_t spread_ns);
  static std::uint32_t shard_of(std::uint64_t seed, std::uint64_t session, std::uint32_t clone,
                                std::uint32_t iteration, std::uint32_t shards);

 private:
  struct SessionState {
    std::int64_t first_base_ns = 0;
    std::int64_t last_base_ns = 0;
    std::vector<std::uint32_t> clones;  // admitted clones of this shard
  };
  struct Later {
    bool operator()(const ScheduledRequest& a, const ScheduledRequest& b) const {
      return a.due_ns != b.due_ns ? a.due_ns > b.due_ns : a.order > b.order;
    }
  };

  std::int64_t base_ns(std::int64_t recorded_ns) const;
  SessionState& session(std::uint64_t id, std::int64_t base);
  void forget_idle_sessions();

  Plan plan_;
  Intensity intensity_;
  std::optional<std::int64_t> end_ns_;
  std::uint32_t clones_ = 1;

  bool have_first_ = false;
  std::int64_t recorded0_ = 0;
  std::int64_t last_recorded_ = 0;
  std::uint64_t pass_requests_ = 0;
  std::int64_t period_ns_ = 0;  // recorded time one pass takes, fixed by the first pass
  std::uint32_t iteration_ = 0;
  std::int64_t watermark_ = INT64_MIN;
  bool finished_ = false;
  bool beyond_end_ = false;

  std::uint64_t next_order_ = 0;
  std::uint64_t next_arrival_ = 0;
  // A binary heap under Later (std::push_heap/pop_heap), so pop() can move the top out.
  std::vector<ScheduledRequest> heap_;
  std::unordered_map<std::uint64_t, SessionState> sessions_;
  ScheduleStats stats_;
};

}  // namespace reprise::replay
