#pragma once
// Engine: sends scheduled requests to the target on its own network thread, under the plan's
// limits, and hands back one outcome per request. Asio, one io_context, one thread: every
// connection, timer and queue below lives on it, so none needs a lock; the two hand-offs
// (requests in from the reader thread, outcomes out to the recording thread) are bounded
// queues under a mutex.
//
// Admission of a request whose time has come, in this order:
//   stopping            -> outcome Aborted (it was due but never sent)
//   held too long       -> outcome Shed when now - intended > max_lateness (never silently)
//   session busy        -> strict session order: parked until the previous answer
//   correlation         -> the request is made its session clone's own (session_clones.hpp);
//                          one needing a value its clone's earlier request has not brought back
//                          yet is parked until that answer, at most the correlation timeout
//   max_inflight        -> waits
//   max_rate            -> waits for the next slot of an even spacing at that rate
//   connection          -> an idle pooled one, else a new one below max_connections unless a
//                          connect failure's back-off is running (100 ms doubling to 5 s: a
//                          failing target is never hammered); per-recorded mode waits for its
//                          own connection
// A request keeps its intended (scheduled) time whatever held it back, so its lateness and
// corrected latency count the wait.
//
// Stop: stop_admitting() (abort, first Ctrl-C) drops what is not due yet, turns what is due
// but unsent into Aborted outcomes and lets in-flight requests finish; cancel_inflight()
// (drain deadline, second Ctrl-C) closes their connections and reports them Aborted.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "reprise/replay/interval_stats.hpp"
#include "reprise/replay/plan.hpp"
#include "reprise/replay/schedule.hpp"
#include "reprise/replay/session_clones.hpp"
#include "reprise/replay/target.hpp"
#include "reprise/result.hpp"

namespace reprise::replay {

struct EngineOptions {
  Plan plan;
  Target target;
  std::size_t keep_body = 64 * 1024;        // response body bytes kept per outcome (0: none)
  std::int64_t epoch_unix_ns = 0;           // wall-clock time of run time 0 (cookie expiry)
  std::size_t max_queued_requests = 8192;   // reader thread -> network thread
  std::size_t max_queued_outcomes = 65536;  // network thread -> recorder: past it, no new sends
};

// One finished request (or one that never went out), times in run ns.
struct EngineOutcome {
  std::uint64_t exchange_id = 0;
  std::uint64_t session_id = 0;
  std::uint32_t clone = 0;
  std::uint32_t iteration = 0;
  OutcomeFacts facts;
  std::uint64_t response_digest = 0;
  bool connection_reused = false;
  bool retried = false;  // sent again on a fresh connection: the reused one had been closed
  std::vector<std::uint8_t> body;
  std::vector<std::pair<std::string, std::string>> headers;
  std::shared_ptr<const std::string> wire;  // the request as sent (shared, not copied)
  std::shared_ptr<const RequestCorrelation> correlation;  // from the request (null: none)
  bool producer = false;                    // TraceRequest::producer
  std::uint8_t correlation_flags = 0;       // CorrelationFlag bits
};

// Live counters, readable from any thread.
struct EngineCounters {
  std::atomic<std::uint64_t> submitted{0};
  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> shed{0};
  std::atomic<std::uint64_t> aborted{0};
  std::atomic<std::uint64_t> dropped_at_stop{0};   // scheduled for later, never due: not sent
  std::atomic<std::uint32_t> inflight{0};
  std::atomic<std::uint32_t> max_inflight_seen{0};
  std::atomic<std::uint32_t> connections_open{0};
  std::atomic<std::uint32_t> max_connections_seen{0};
  std::atomic<std::uint64_t> connections_opened{0};
  std::atomic<std::uint64_t> connect_failures{0};
  std::atomic<std::uint64_t> connections_closed_idle{0};
  // Kept-alive connections the server had closed: found before use (not reused), or when an
  // idempotent request on one got no answer (it went again on a fresh connection: a retry).
  std::atomic<std::uint64_t> stale_connections{0};
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> waiting{0};           // due, held back by a limit right now
  std::atomic<std::uint64_t> held_by_inflight{0};  // times a due request waited for a slot
  std::atomic<std::uint64_t> held_by_connections{0};
  std::atomic<std::uint64_t> held_by_rate{0};
  std::atomic<std::uint64_t> held_by_backoff{0};
  std::atomic<std::uint64_t> held_by_outcome_queue{0};
  std::atomic<std::uint64_t> held_by_correlation{0};  // waits for a clone's earlier answer
  std::atomic<std::uint64_t> request_queue_full_waits{0};
};

// The counters that end up in a summary, read at one moment.
struct EngineTotals {
  std::uint64_t sent = 0, shed = 0, aborted = 0, dropped_at_stop = 0;
  std::uint64_t connections_opened = 0, connect_failures = 0, stale_connections = 0, retries = 0;
  std::uint32_t max_inflight_seen = 0, max_connections_seen = 0;
  std::uint64_t held_by_inflight = 0, held_by_connections = 0, held_by_rate = 0,
                held_by_backoff = 0;
};

class Engine {
 public:
  // `t0` is run time 0. Resolves the target first: the error (errc::resolve_failed) says so.
  static Result<std::unique_ptr<Engine>> create(EngineOptions options,
                                                std::chrono::steady_clock::time_point t0);
  ~Engine();  // stops the network thread; call cancel_inflight() first for a clean record
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Reader thread: hands over the next scheduled request (in due order); waits while the queue
  // is full. Returns false once the engine is stopping (the caller stops reading).
  bool submit(ScheduledRequest request);
  // Reader thread: there will be no more requests.
  void end_of_input();

  // Recorder thread: moves finished outcomes into `out` (appending).
  void take_outcomes(std::vector<EngineOutcome>& out);

  void stop_admitting();
  void cancel_inflight();
  // Input has ended (or admission stopped) and nothing is queued or in flight.
  bool finished() const { return finished_.load(); }

  const EngineCounters& counters() const;
  EngineTotals totals() const;
  // Per correlation rule and cookie jar (empty rules and zeros with correlation off).
  CorrelationTotals correlation_totals() const;
  std::int64_t now_ns() const;  // run time

  struct Impl;

 private:
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> finished_{false};
};

}  // namespace reprise::replay
