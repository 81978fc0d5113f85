#include "reprise/replay/engine.hpp"

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "client_connection.hpp"
#include "reprise/replay/error.hpp"

namespace reprise::replay {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::int64_t kNever = INT64_MAX;
constexpr std::int64_t kFirstBackoffNs = 100'000'000;
constexpr std::int64_t kMaxBackoffNs = 5'000'000'000;
// --max-rate: how far behind its even spacing the limiter may catch up (see send()).
constexpr std::int64_t kRateBankNs = 1'000'000;

void raise_max(std::atomic<std::uint32_t>& max, std::uint32_t value) {
  std::uint32_t seen = max.load(std::memory_order_relaxed);
  while (value > seen && !max.compare_exchange_weak(seen, value, std::memory_order_relaxed)) {
  }
}

}  // namespace

struct Engine::Impl {
  EngineOptions options;
  const Plan& plan = options.plan;
  Clock::time_point t0;
  std::atomic<bool>* finished = nullptr;
  EngineCounters counters;

  // Sockets and timers are used on the network thread only (other threads just post to it),
  // so the reactor skips the descriptor lock it otherwise takes to start and to complete
  // every read and write.
  asio::io_context io{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  // Connected sockets are watched here, not by the io_context's reactor (readiness_poller.hpp);
  // declared before the connections, so it outlives them.
  std::unique_ptr<ReadinessPoller> poller;
  tcp::resolver::results_type endpoints;
  std::thread thread;

  // Reader thread -> network thread.
  std::mutex in_mu;
  std::condition_variable in_cv;
  std::deque<ScheduledRequest> incoming;
  bool input_ended = false;
  bool refusing = false;  // stop_admitting() was called: submit() returns false
  // Hand-offs are batched so the two threads do not wake each other per request: the reader,
  // once the queue is full, sleeps until it is down to half; the network thread is only
  // posted a wake-up when it ran out of requests (starved).
  bool reader_waiting = false;
  bool starved = false;

  // Network thread -> recorder. Outcomes gather in `finished_outcomes` and are published under
  // the lock once per turn of the event loop (a posted flush), not once per request: the lock
  // and the backlog count sit on cache lines the recorder thread writes too.
  std::mutex out_mu;
  std::vector<EngineOutcome> outcomes;
  std::atomic<std::size_t> outcome_backlog{0};  // published, not yet taken
  std::vector<EngineOutcome> finished_outcomes;  // network thread only: not yet published
  bool flush_posted = false;

  // Network thread only.
  struct SessionGate {
    std::deque<ScheduledRequest> parked;  // strict order: waiting for the one in ready/flight
  };
  std::deque<ScheduledRequest> pending;  // handed over, not yet due (due order)
  std::deque<ScheduledRequest> ready;    // due, waiting for a limit
  std::size_t parked = 0;                // in session gates and per-recorded waits
  std::unordered_map<std::uint64_t, SessionGate> gates;  // strict: sessions with one in play
  std::unordered_map<std::uint64_t, std::shared_ptr<ClientConnection>> per_recorded;
  std::unordered_map<std::uint64_t, std::deque<ScheduledRequest>> connection_waits;
  std::vector<std::shared_ptr<ClientConnection>> idle;  // pool mode, most recent last
  // Connections with a request in flight; each knows its index (busy_slot): held and released
  // per request without a hash-map node.
  std::vector<std::shared_ptr<ClientConnection>> busy;
  std::unordered_map<ClientConnection*, ScheduledRequest> conn_sessions;  // strict: who is where
  // Correlation: the clones' state, and requests waiting for a producer's answer, by
  // (clone, producer) and in deadline order. A request that waits again (for its next
  // producer) keeps its first deadline, so it is inserted where that deadline falls.
  std::unique_ptr<SessionClones> clones;
  struct CorrelationWait {
    std::int64_t deadline = 0;
    std::uint64_t key = 0;
  };
  struct Waiting {
    std::int64_t deadline = 0;
    ScheduledRequest request;
  };
  std::unordered_map<std::uint64_t, std::deque<Waiting>> correlation_waits;
  std::deque<CorrelationWait> correlation_deadlines;
  std::uint32_t open = 0;  // connections open or connecting
  bool stopping = false;
  bool ended = false;  // input_ended seen by this thread
  // The last pull left nothing to pull until the reader posts a pump (starved) or ever (ended);
  // false when a pull was skipped. pump() need not pull again then.
  bool drained = false;
  std::int64_t backoff_until = 0;
  std::int64_t backoff_ns = 0;
  std::int64_t rate_next = 0;
  std::int64_t rate_interval = 0;
  asio::steady_timer wake{io};
  std::int64_t wake_at = kNever;
  asio::steady_timer housekeeping{io};
  asio::steady_timer sweeper{io};
  std::vector<std::shared_ptr<ClientConnection>> sweeping;  // sweep()'s buffer, reused

  explicit Impl(EngineOptions o) : options(std::move(o)) {
    if (plan.max_rate_per_s > 0)
      rate_interval = static_cast<std::int64_t>(1e9 / plan.max_rate_per_s);
    if (plan.correlation.enabled) clones = std::make_unique<SessionClones>(plan.correlation);
  }

  std::int64_t unix_ns(std::int64_t run_ns) const { return options.epoch_unix_ns + run_ns; }

  void hold_busy(const std::shared_ptr<ClientConnection>& c) {
    c->busy_slot = busy.size();
    busy.push_back(c);
  }

  // Takes the connection out of the in-flight list (swapping the last one into its place);
  // null when it was not in it.
  std::shared_ptr<ClientConnection> release_busy(ClientConnection& c) {
    const std::size_t slot = c.busy_slot;
    if (slot >= busy.size() || busy[slot].get() != &c) return nullptr;
    std::shared_ptr<ClientConnection> self = std::move(busy[slot]);
    if (slot + 1 != busy.size()) {
      busy[slot] = std::move(busy.back());
      busy[slot]->busy_slot = slot;
    }
    busy.pop_back();
    c.busy_slot = SIZE_MAX;
    return self;
  }

  static std::uint64_t wait_key(std::uint64_t clone_key, std::uint64_t producer) {
    return clone_key ^ (producer * 0x9e3779b97f4a7c15ULL + 0x632be59bd9b4e019ULL);
  }

  std::int64_t now() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - t0).count();
  }

  // ---- hand-offs -------------------------------------------------------------------------

  // Every outcome ends here: the clone learns from it (and its waiting requests are due again)
  // before it goes to the recorder, with what the run asked to keep of the response.
  void emit(EngineOutcome o) {
    if (o.facts.error == OutcomeError::Shed) ++counters.shed;
    if (o.facts.error == OutcomeError::Aborted) ++counters.aborted;
    if (clones) {
      if (o.correlation) {
        clones->received(o, unix_ns(o.facts.done_ns));
        release_correlation(session_clone_key(o.session_id, o.clone, o.iteration), o.exchange_id);
      }
      if (o.body.size() > options.keep_body) o.body.resize(options.keep_body);
      if (options.keep_body == 0) o.headers.clear();
    }
    finished_outcomes.push_back(std::move(o));
    if (!flush_posted) {
      flush_posted = true;
      asio::post(io, [this] { publish_outcomes(); });
    }
  }

  void publish_outcomes() {
    flush_posted = false;
    if (finished_outcomes.empty()) return;
    std::lock_guard lock(out_mu);
    outcome_backlog += finished_outcomes.size();
    if (outcomes.empty()) {
      outcomes.swap(finished_outcomes);
    } else {
      for (auto& o : finished_outcomes) outcomes.push_back(std::move(o));
      finished_outcomes.clear();
    }
  }

  // Outcomes the recorder has not taken yet: the limit on them holds new sends back.
  bool outcome_queue_full() const {
    return outcome_backlog.load(std::memory_order_relaxed) + finished_outcomes.size() >=
           options.max_queued_outcomes;
  }

  // The outcome of r, taking over its request bytes and correlation (a caller that still needs
  // them passes a copy: ScheduledRequest(r)).
  static EngineOutcome outcome_for(ScheduledRequest&& r) {
    EngineOutcome o;
    o.wire = std::move(r.request.wire);
    o.correlation = std::move(r.request.correlation);
    o.exchange_id = r.request.exchange_id;
    o.session_id = r.request.session_id;
    o.clone = r.clone;
    o.iteration = r.iteration;
    o.correlation_flags = r.correlation_flags;
    o.producer = r.request.producer;
    o.facts.intended_ns = r.due_ns;
    return o;
  }

  // An outcome for a request that was never sent (shed, or aborted while it waited).
  void emit_unsent(const ScheduledRequest& r, OutcomeError why, std::int64_t t) {
    EngineOutcome o = outcome_for(ScheduledRequest(r));
    o.facts.done_ns = t;
    o.facts.error = why;
    emit(std::move(o));
  }

  // Requests on this thread: handed over, due and waiting, parked.
  std::size_t held() const { return pending.size() + ready.size() + parked; }

  // Takes what the reader thread handed over, keeping at most max_queued_requests here. When
  // nothing is pending and all of it fits, the two queues are swapped under the lock instead
  // of moved request by request; producers are announced to the clones after it is released.
  // True when it took at least one request.
  bool pull_incoming() {
    // With more than half the limit already here, the next pull waits: requests then come over
    // in batches of at least half the limit, not one per answer (a lock and two cache misses
    // each). Something held leads to another pump (an answer, a timer or a release), except
    // when dispatch() sheds all of it at once: pump() then pulls again.
    if (held() > options.max_queued_requests / 2) {
      drained = false;  // not looked at
      return false;
    }
    const std::size_t first_new = pending.size();
    {
      std::lock_guard lock(in_mu);
      const std::size_t cap = options.max_queued_requests;
      const std::size_t room = cap - std::min(cap, held());
      if (pending.empty() && incoming.size() <= room) {
        pending.swap(incoming);
      } else {
        for (std::size_t n = std::min(room, incoming.size()); n > 0; --n) {
          pending.push_back(std::move(incoming.front()));
          incoming.pop_front();
        }
      }
      ended = input_ended && incoming.empty();
      starved = incoming.empty() && !input_ended && held() < cap;
      drained = starved || ended;
      if (reader_waiting && incoming.size() <= cap / 2) in_cv.notify_one();
    }
    if (clones) {
      for (std::size_t i = first_new; i < pending.size(); ++i) {
        const ScheduledRequest& r = pending[i];
        if (r.request.producer)
          clones->expect(r.session_key(), r.request.exchange_id);
      }
    }
    return pending.size() > first_new;
  }

  // ---- admission -------------------------------------------------------------------------

  // A due request enters the ready queue, unless strict order parks it behind its session.
  void make_ready(ScheduledRequest r) {
    if (plan.strict_session_order) {
      auto [it, fresh] = gates.try_emplace(r.session_key());
      if (!fresh) {
        it->second.parked.push_back(std::move(r));
        ++parked;
        return;
      }
    }
    ready.push_back(std::move(r));
  }

  // The request of a strict session left play (answered, shed, aborted): its next one is due.
  void release_session(const ScheduledRequest& r) {
    if (!plan.strict_session_order) return;
    auto it = gates.find(r.session_key());
    if (it == gates.end()) return;
    if (it->second.parked.empty()) {
      gates.erase(it);
      return;
    }
    ready.push_front(std::move(it->second.parked.front()));
    it->second.parked.pop_front();
    --parked;
  }

  // ---- correlation -----------------------------------------------------------------------

  // Makes the head of ready its clone's own; false when it was parked to wait for a value.
  bool correlate(ScheduledRequest& r, std::int64_t t) {
    if (!clones || r.prepared || r.request.clone_invariant) return true;
    const bool give_up = (r.correlation_flags & kTimedOut) != 0 ||
                         (r.correlation_deadline_ns != 0 && t >= r.correlation_deadline_ns);
    SessionClones::Prepared p = clones->prepare(r, give_up, unix_ns(t));
    if (p.wait) {
      ++counters.held_by_correlation;
      r.correlation_flags |= kWaited;
      const std::uint64_t key = wait_key(r.session_key(), p.producer);
      if (r.correlation_deadline_ns == 0) r.correlation_deadline_ns = t + plan.correlation.timeout_ns;
      const std::int64_t deadline = r.correlation_deadline_ns;
      auto& waits = correlation_waits[key];
      const auto later = [](std::int64_t d, const auto& w) { return d < w.deadline; };
      waits.insert(std::upper_bound(waits.begin(), waits.end(), deadline, later), Waiting{deadline, std::move(r)});
      correlation_deadlines.insert(
          std::upper_bound(correlation_deadlines.begin(), correlation_deadlines.end(), deadline, later),
          CorrelationWait{deadline, key});
      ++parked;
      return false;
    }
    r.request.wire = std::move(p.wire);
    r.correlation_flags |= p.flags;
    r.prepared = true;
    return true;
  }

  // The producer's answer is in: the requests that waited for it are due again, in order.
  void release_correlation(std::uint64_t clone_key, std::uint64_t producer) {
    auto it = correlation_waits.find(wait_key(clone_key, producer));
    if (it == correlation_waits.end()) return;
    auto& waits = it->second;
    parked -= waits.size();
    for (auto w = waits.rbegin(); w != waits.rend(); ++w) ready.push_front(std::move(w->request));
    correlation_waits.erase(it);
  }

  // Waits past the correlation timeout end: the request goes with the recorded value.
  void expire_correlation_waits(std::int64_t t) {
    while (!correlation_deadlines.empty() && correlation_deadlines.front().deadline <= t) {
      const std::uint64_t key = correlation_deadlines.front().key;
      correlation_deadlines.pop_front();
      auto it = correlation_waits.find(key);
      if (it == correlation_waits.end()) continue;  // released meanwhile
      auto& waits = it->second;
      while (!waits.empty() && waits.front().deadline <= t) {
        ScheduledRequest r = std::move(waits.front().request);
        waits.pop_front();
        --parked;
        r.correlation_flags |= kTimedOut;
        ready.push_front(std::move(r));
      }
      if (waits.empty()) correlation_waits.erase(it);
    }
  }

  std::shared_ptr<ClientConnection> new_connection(std::uint64_t key) {
    ClientConnection::Timeouts timeouts{std::chrono::nanoseconds(plan.connect_timeout_ns),
                                        std::chrono::nanoseconds(plan.request_timeout_ns)};
    auto c = std::make_shared<ClientConnection>(
        io, *poller, endpoints, timeouts, [this] { return now(); },
        [this](ClientConnection& conn, EngineOutcome o, bool reusable) {
          on_done(conn, std::move(o), reusable);
        });
    c->key = key;
    ++open;
    ++counters.connections_opened;
    counters.connections_open = open;
    raise_max(counters.max_connections_seen, open);
    return c;
  }

  bool may_open(std::int64_t t) {
    if (t < backoff_until) {
      ++counters.held_by_backoff;
      return false;
    }
    return true;
  }

  // Makes room for a per-recorded connection by closing the one idle longest.
  bool evict_idle_per_recorded() {
    ClientConnection* oldest = nullptr;
    for (auto& [key, c] : per_recorded)
      if (!c->busy() && (oldest == nullptr || c->idle_since_ns() < oldest->idle_since_ns()))
        oldest = c.get();
    if (oldest == nullptr) return false;
    const std::uint64_t key = oldest->key;
    oldest->close();
    per_recorded.erase(key);
    --open;
    return true;
  }

  // An idle connection the server closed (ClientConnection::still_open) is not reused.
  void drop_stale(ClientConnection& c) {
    if (!c.closed()) ++counters.stale_connections;
    c.close();
    --open;
  }

  enum class Acquire { Got, Parked, Wait };

  // A connection for the request at the head of ready: reused, opened, or none yet.
  Acquire acquire(ScheduledRequest& r, std::int64_t t, std::shared_ptr<ClientConnection>& out) {
    if (plan.connections == ConnectionMode::PerRecorded) {
      const std::uint64_t key = r.connection_key();
      if (auto it = per_recorded.find(key); it != per_recorded.end()) {
        if (it->second->busy()) {
          connection_waits[key].push_back(std::move(r));
          ++parked;
          return Acquire::Parked;
        }
        if (it->second->still_open(t)) {
          out = it->second;
          return Acquire::Got;
        }
        drop_stale(*it->second);
        per_recorded.erase(it);
      }
      if (open >= plan.max_connections && !evict_idle_per_recorded()) {
        ++counters.held_by_connections;
        return Acquire::Wait;
      }
      if (!may_open(t)) return Acquire::Wait;
      out = new_connection(key);
      per_recorded.emplace(key, out);
      return Acquire::Got;
    }
    while (!idle.empty()) {
      out = std::move(idle.back());
      idle.pop_back();
      if (out->still_open(t)) return Acquire::Got;
      drop_stale(*out);
    }
    if (open >= plan.max_connections) {
      ++counters.held_by_connections;
      return Acquire::Wait;
    }
    if (!may_open(t)) return Acquire::Wait;
    out = new_connection(0);
    return Acquire::Got;
  }

  // --connections per-recorded: the next request waiting for recorded connection `key` becomes
  // ready, unless the connection is busy (its answer releases it). Called whenever the request
  // ahead of the waiters leaves: answered, or shed — else the waiters would wait forever. With
  // the pool nothing waits for a connection, and this finds nothing.
  void release_connection_wait(std::uint64_t key) {
    auto w = connection_waits.find(key);
    if (w == connection_waits.end()) return;
    if (auto c = per_recorded.find(key); c != per_recorded.end() && c->second->busy()) return;
    ready.push_front(std::move(w->second.front()));
    w->second.pop_front();
    --parked;
    if (w->second.empty()) connection_waits.erase(w);
  }

  void dispatch(std::int64_t t) {
    while (!ready.empty()) {
      ScheduledRequest& r = ready.front();
      // The reader thread wrote the next requests on the other core: fetching them now, while
      // this one is sent, saves a cache miss per request.
      for (std::size_t i = 1; i <= 2 && i < ready.size(); ++i) {
        const char* next = reinterpret_cast<const char*>(&ready[i]);
        for (std::size_t at = 0; at < sizeof(ScheduledRequest); at += 64) __builtin_prefetch(next + at);
      }
      if (stopping) {
        ScheduledRequest gone = std::move(r);
        ready.pop_front();
        emit_unsent(gone, OutcomeError::Aborted, t);
        release_session(gone);
        continue;
      }
      if (plan.pacing != Pacing::Max && t - r.due_ns > plan.max_lateness_ns) {
        ScheduledRequest gone = std::move(r);
        ready.pop_front();
        emit_unsent(gone, OutcomeError::Shed, t);
        release_session(gone);
        release_connection_wait(gone.connection_key());
        continue;
      }
      if (!correlate(r, t)) {
        ready.pop_front();
        continue;
      }
      if (counters.inflight >= plan.max_inflight) {
        ++counters.held_by_inflight;
        break;
      }
      if (outcome_queue_full()) {
        ++counters.held_by_outcome_queue;
        break;
      }
      if (rate_interval > 0 && t < rate_next) {
        ++counters.held_by_rate;
        break;
      }
      std::shared_ptr<ClientConnection> conn;
      const Acquire a = acquire(r, t, conn);
      if (a == Acquire::Parked) {
        ready.pop_front();
        continue;
      }
      if (a == Acquire::Wait) break;
      ScheduledRequest go = std::move(r);
      ready.pop_front();
      send(conn, go, t);
    }
    counters.waiting = ready.size() + parked;
  }

  void send(const std::shared_ptr<ClientConnection>& conn, ScheduledRequest& r, std::int64_t t) {
    if (plan.pacing == Pacing::Max) r.due_ns = t;  // no schedule: it is meant to go now
    // Slots missed while the loop was late (a timer fires tens of µs late) may be caught up,
    // but at most kRateBankNs of them: a quiet spell does not turn into a burst.
    if (rate_interval > 0)
      rate_next = std::max(rate_next, t - std::min(10 * rate_interval, kRateBankNs)) + rate_interval;
    hold_busy(conn);
    ++counters.sent;
    const std::uint32_t in = ++counters.inflight;
    raise_max(counters.max_inflight_seen, in);
    // The clone reads cookies from every answer and values from a producer's: keep what it
    // needs even when the run file keeps less (emit() trims to keep_body).
    using Headers = ResponseReader::Headers;
    ClientConnection::Keep keep{options.keep_body, clones ? Headers::SetCookie : Headers::None};
    if (clones && r.request.producer) {
      keep.body = std::max(keep.body, plan.correlation.max_response_bytes);
      keep.headers = Headers::All;
    }
    // Strict order releases the session on completion; remember which one.
    if (plan.strict_session_order) conn_sessions[conn.get()] = r;
    const ClientConnection::Request request{r.request.head, r.request.idempotent};
    conn->start(request, outcome_for(std::move(r)), keep);
  }

  void on_done(ClientConnection& conn, EngineOutcome o, bool reusable) {
    const std::int64_t t = o.facts.done_ns;
    std::shared_ptr<ClientConnection> self = release_busy(conn);
    --counters.inflight;
    if (o.facts.error == OutcomeError::Connect) {
      ++counters.connect_failures;
      backoff_ns = backoff_ns == 0 ? kFirstBackoffNs : std::min(backoff_ns * 2, kMaxBackoffNs);
      backoff_until = t + backoff_ns;
    } else if (o.facts.error == OutcomeError::None) {
      backoff_ns = 0;
    }
    if (o.retried) {
      ++counters.stale_connections;
      ++counters.retries;
      ++counters.connections_opened;
    }
    if (plan.strict_session_order) {
      if (auto it = conn_sessions.find(&conn); it != conn_sessions.end()) {
        const ScheduledRequest r = std::move(it->second);
        conn_sessions.erase(it);
        release_session(r);
      }
    }
    const bool keep = reusable && !stopping && self;
    if (plan.connections == ConnectionMode::PerRecorded) {
      const std::uint64_t key = conn.key;
      if (!keep) {
        if (auto it = per_recorded.find(key); it != per_recorded.end() && it->second.get() == &conn) {
          per_recorded.erase(it);
          --open;
        }
      }
      release_connection_wait(key);
    } else if (keep) {
      idle.push_back(std::move(self));
    } else {
      --open;
    }
    counters.connections_open = open;
    emit(std::move(o));
    pump(t);  // the answer's done time is now to within the handler's own run
  }

  // ---- the loop --------------------------------------------------------------------------

  void pump() { pump(now()); }

  void pump(std::int64_t t) {
    if (!stopping) pull_incoming();
    expire_correlation_waits(t);
    // Shedding can empty all that was held in one dispatch (a session's parked requests, each
    // shed one releasing the next) while the pull above was skipped for holding too much. Then
    // no answer or timer would pump again, and the reader, waiting for room, would wait forever:
    // so what dispatch freed is refilled, unless the reader had nothing left (it then wakes us).
    do {
      admit_due(t);
      dispatch(t);
    } while (!stopping && !drained && pull_incoming());
    if (ended || stopping) {
      const bool idle_now = pending.empty() && ready.empty() && parked == 0 &&
                            counters.inflight == 0;
      if (idle_now) {
        publish_outcomes();  // all of them are out before the run is declared over
        finished->store(true);
      }
    }
    arm(t);
  }

  // Due requests move from pending to ready.
  void admit_due(std::int64_t t) {
    // As fast as the limits allow, every request is due at run time 0 (Schedule), not in the
    // lead before it, which is the reader's time to queue the first requests.
    if (ready.empty() && !plan.strict_session_order && !pending.empty() &&
        pending.back().due_ns <= t) {
      // All of it is due: the queues trade places instead of each request being moved through
      // memory the reader thread wrote.
      ready.swap(pending);
    }
    while (!pending.empty() && pending.front().due_ns <= t) {
      ScheduledRequest r = std::move(pending.front());
      pending.pop_front();
      make_ready(std::move(r));
    }
  }

  void arm(std::int64_t t) {
    std::int64_t at = kNever;
    if (!pending.empty()) at = pending.front().due_ns;
    if (!ready.empty()) {
      if (plan.pacing != Pacing::Max) at = std::min(at, ready.front().due_ns + plan.max_lateness_ns + 1);
      if (rate_interval > 0 && rate_next > t) at = std::min(at, rate_next);
      if (backoff_until > t) at = std::min(at, backoff_until);
      if (outcome_queue_full()) at = std::min(at, t + 1'000'000);
    }
    if (!correlation_deadlines.empty()) at = std::min(at, correlation_deadlines.front().deadline);
    if (at == wake_at) return;
    wake_at = at;
    if (at == kNever) {
      wake.cancel();
      return;
    }
    wake.expires_at(t0 + std::chrono::nanoseconds(at));
    wake.async_wait([this](const boost::system::error_code& ec) {
      if (ec == asio::error::operation_aborted) return;
      wake_at = kNever;
      pump();
    });
  }

  // Ends requests past their connect or request deadline (ClientConnection::expire).
  void sweep() {
    const std::int64_t t = now();
    sweeping.assign(busy.begin(), busy.end());  // expiring changes `busy`
    for (auto& c : sweeping) c->expire(t);
    sweeping.clear();
    sweeper.expires_after(std::chrono::milliseconds(5));
    sweeper.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) sweep();
    });
  }

  void housekeep() {
    const std::int64_t t = now();
    auto expired = [&](const std::shared_ptr<ClientConnection>& c) {
      return !c->busy() && t - c->idle_since_ns() > plan.idle_timeout_ns;
    };
    for (auto it = idle.begin(); it != idle.end();) {
      if (expired(*it) || (*it)->closed()) {
        (*it)->close();
        it = idle.erase(it);
        --open;
        ++counters.connections_closed_idle;
      } else {
        ++it;
      }
    }
    for (auto it = per_recorded.begin(); it != per_recorded.end();) {
      if (expired(it->second)) {
        it->second->close();
        it = per_recorded.erase(it);
        --open;
        ++counters.connections_closed_idle;
      } else {
        ++it;
      }
    }
    counters.connections_open = open;
    housekeeping.expires_after(std::chrono::milliseconds(250));
    housekeeping.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) housekeep();
    });
  }

  void stop() {
    if (stopping) return;
    stopping = true;
    {
      std::lock_guard lock(in_mu);
      refusing = true;
      counters.dropped_at_stop += incoming.size();
      incoming.clear();
      in_cv.notify_all();
    }
    counters.dropped_at_stop += pending.size();
    pending.clear();
    if (plan.pacing == Pacing::Max) {
      // With no schedule nothing is late: what waits for a slot is simply not sent.
      counters.dropped_at_stop += ready.size();
      ready.clear();
      for (auto& [key, gate] : gates) counters.dropped_at_stop += gate.parked.size();
      gates.clear();
    }
    const std::int64_t t = now();
    // Due but never sent: reported, not dropped.
    for (auto& [key, gate] : gates)
      for (auto& r : gate.parked) emit_unsent(r, OutcomeError::Aborted, t);
    gates.clear();
    for (auto& [key, waits] : connection_waits)
      for (auto& r : waits) emit_unsent(r, OutcomeError::Aborted, t);
    connection_waits.clear();
    // Taken out first: aborting one releases nothing into them while they are walked.
    auto waiting = std::move(correlation_waits);
    correlation_waits.clear();
    correlation_deadlines.clear();
    for (auto& [key, waits] : waiting)
      for (auto& w : waits) emit_unsent(w.request, OutcomeError::Aborted, t);
    parked = 0;
    for (auto& c : idle) c->close();
    open -= static_cast<std::uint32_t>(idle.size());
    idle.clear();
    pump();
  }

  void cancel() {
    stop();
    const std::vector<std::shared_ptr<ClientConnection>> running = busy;  // closing changes `busy`
    for (auto& c : running) c->close(OutcomeError::Aborted);
    for (auto& [key, c] : per_recorded) {
      c->close();
      --open;
    }
    per_recorded.clear();
    counters.connections_open = open;
    pump();
  }
};

Result<std::unique_ptr<Engine>> Engine::create(EngineOptions options, Clock::time_point t0) {
  if (Status st = options.plan.validate(); !st) return st.take_error();
  auto impl = std::make_unique<Impl>(std::move(options));
  impl->t0 = t0;
  tcp::resolver resolver(impl->io);
  boost::system::error_code ec;
  impl->endpoints = resolver.resolve(impl->options.target.host,
                                     std::to_string(impl->options.target.port), ec);
  if (ec || impl->endpoints.empty())
    return fail(errc::resolve_failed, "--target",
                "'" + impl->options.target.host + "': " + (ec ? ec.message() : "no address") +
                    "; nothing was sent");
  auto poller = ReadinessPoller::create(impl->io);
  if (!poller) return fail(errc::system_resource, poller.error().where, poller.error().code.message());
  impl->poller = std::move(*poller);
  std::unique_ptr<Engine> engine(new Engine(std::move(impl)));
  Impl* p = engine->impl_.get();
  p->finished = &engine->finished_;
  asio::post(p->io, [p] {
    p->housekeep();
    p->sweep();
    p->pump();
  });
  p->thread = std::thread([p] {
    p->io.run();
    p->publish_outcomes();  // a stop() can leave the posted flush unrun
  });
  return engine;
}

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Engine::~Engine() {
  Impl& d = *impl_;
  asio::post(d.io, [&d] {
    d.cancel();
    d.housekeeping.cancel();
    d.sweeper.cancel();
    d.wake.cancel();
  });
  d.work.reset();
  {
    std::lock_guard lock(d.in_mu);
    d.refusing = true;
    d.in_cv.notify_all();
  }
  // Give the cancellations a moment to run their handlers, then stop.
  asio::post(d.io, [&d] { d.io.stop(); });
  if (d.thread.joinable()) d.thread.join();
}

bool Engine::submit(ScheduledRequest request) {
  Impl& d = *impl_;
  bool wake = false;
  {
    std::unique_lock lock(d.in_mu);
    if (d.incoming.size() >= d.options.max_queued_requests) {
      ++d.counters.request_queue_full_waits;
      d.reader_waiting = true;
      d.in_cv.wait(lock, [&] {
        return d.refusing || d.incoming.size() <= d.options.max_queued_requests / 2;
      });
      d.reader_waiting = false;
    }
    if (d.refusing) {
      ++d.counters.dropped_at_stop;  // the caller drops it: planned, never sent
      return false;
    }
    wake = d.starved;
    d.starved = false;
    d.incoming.push_back(std::move(request));
    ++d.counters.submitted;
  }
  if (wake) asio::post(d.io, [&d] { d.pump(); });
  return true;
}

void Engine::end_of_input() {
  Impl& d = *impl_;
  {
    std::lock_guard lock(d.in_mu);
    d.input_ended = true;
  }
  asio::post(d.io, [&d] { d.pump(); });
}

void Engine::take_outcomes(std::vector<EngineOutcome>& out) {
  Impl& d = *impl_;
  std::lock_guard lock(d.out_mu);
  d.outcome_backlog -= d.outcomes.size();
  if (out.empty()) {
    out.swap(d.outcomes);
    return;
  }
  for (auto& o : d.outcomes) out.push_back(std::move(o));
  d.outcomes.clear();
}

void Engine::stop_admitting() {
  Impl& d = *impl_;
  {
    std::lock_guard lock(d.in_mu);
    d.refusing = true;
    d.in_cv.notify_all();
  }
  asio::post(d.io, [&d] { d.stop(); });
}

void Engine::cancel_inflight() {
  Impl& d = *impl_;
  asio::post(d.io, [&d] { d.cancel(); });
}

const EngineCounters& Engine::counters() const { return impl_->counters; }

EngineTotals Engine::totals() const {
  const EngineCounters& c = impl_->counters;
  EngineTotals t;
  t.sent = c.sent;
  t.shed = c.shed;
  t.aborted = c.aborted;
  t.dropped_at_stop = c.dropped_at_stop;
  t.connections_opened = c.connections_opened;
  t.connect_failures = c.connect_failures;
  t.stale_connections = c.stale_connections;
  t.retries = c.retries;
  t.max_inflight_seen = c.max_inflight_seen;
  t.max_connections_seen = c.max_connections_seen;
  t.held_by_inflight = c.held_by_inflight;
  t.held_by_connections = c.held_by_connections;
  t.held_by_rate = c.held_by_rate;
  t.held_by_backoff = c.held_by_backoff;
  return t;
}

std::int64_t Engine::now_ns() const { return impl_->now(); }

CorrelationTotals Engine::correlation_totals() const {
  return impl_->clones ? impl_->clones->totals() : CorrelationTotals{};
}

}  // namespace reprise::replay
