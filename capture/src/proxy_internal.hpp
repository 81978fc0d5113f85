#pragma once
// The recording proxy's parts (recording_proxy.hpp): the per-thread worker with its upstream
// pool, and the shared state (its streams: proxy_stream.hpp). Private to capture/.

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>

#include "proxy_stream.hpp"
#include "reprise/capture/recording_proxy.hpp"
#include "reprise/net/readiness_poller.hpp"

namespace reprise::capture {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// One pooled connection to the upstream.
struct UpstreamConnection {
  UpstreamConnection(asio::io_context& io, net::ReadinessPoller* poller) : stream(io, poller) {}
  ProxyStream stream;
  std::int64_t idle_since_ns = 0;
  std::uint32_t uses = 0;  // requests sent on it
};

class ClientSession;

// A request in progress on a worker, linked into the worker's list of starts (oldest first).
// Each client session owns one: it has at most one request in progress.
struct RequestStart {
  std::int64_t t = 0;
  RequestStart* older = nullptr;
  RequestStart* newer = nullptr;
  bool linked = false;
};

// One thread: its io_context, its client sessions and its share of the upstream pool.
struct Worker {
  using Ready = std::function<void(std::shared_ptr<UpstreamConnection>, error_code)>;

  explicit Worker(RecordingProxy::Impl& p) : proxy(p) {}
  RecordingProxy::Impl& proxy;

  // Starts of requests in progress, for the recorder's watermark (oldest published atomically).
  // Declared before io: sessions that io's destruction destroys still find them.
  // A worker's clock never goes back, so a new start is the newest: the starts form a list in
  // time order, joined and left in O(1) without an allocation (a multiset node per request
  // was 2 % of the proxy's CPU).
  RequestStart* oldest_start = nullptr;
  RequestStart* newest_start = nullptr;
  // Released after the exchange went to the recorder's queue: a recorder that sees a later
  // value also sees that exchange when it takes the queue.
  std::atomic<std::int64_t> oldest{INT64_MAX};
  // A request starts now: links `s` and returns its start (unix ns), published in `oldest`.
  std::int64_t started(RequestStart& s);
  void ended(RequestStart& s) {
    if (!s.linked) return;
    (s.older != nullptr ? s.older->newer : oldest_start) = s.newer;
    (s.newer != nullptr ? s.newer->older : newest_start) = s.older;
    s.linked = false;
    s.older = s.newer = nullptr;
    oldest.store(oldest_start != nullptr ? oldest_start->t : INT64_MAX, std::memory_order_release);
  }

  // Its sockets and timers are used on its own thread only (accepted descriptors come over as
  // plain descriptors, RecordingProxy::Impl::accept), so the reactor skips the descriptor lock
  // it otherwise takes to start and to complete every read and write.
  asio::io_context io{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
  // Plain-TCP streams are watched here, not by io's reactor (proxy_stream.hpp). Null if the
  // system refused an epoll instance (streams then stay with Asio), and once drained: its wait
  // would keep io.run() from returning.
  std::unique_ptr<net::ReadinessPoller> poller;
  std::thread thread;
  asio::steady_timer housekeeping{io};
  asio::steady_timer drain_deadline{io};

  std::vector<std::shared_ptr<UpstreamConnection>> idle;  // most recently used last
  std::size_t upstream_open = 0;
  std::size_t upstream_limit = 1;
  struct Waiter {
    ClientSession* session;
    Ready ready;
  };
  // Requests waiting for a connection, in arrival order; a session that closes leaves it
  // (forget()), so it holds at most one entry per open session.
  std::deque<Waiter> waiting;
  std::unordered_set<ClientSession*> sessions;
  bool draining = false;

  // A connection to the upstream for `who`: an idle one, a new one, or the next one released.
  void acquire(ClientSession* who, Ready ready);
  // `who` no longer waits for a connection (it closed).
  void forget(ClientSession* who);
  // Back to the pool (reusable) or closed; hands it to a waiting request first.
  void release(std::shared_ptr<UpstreamConnection> c, bool reusable);
  // Closes `stale` and connects a fresh one in its place, ahead of the requests waiting: the
  // request it carried goes again without taking one more than the limit.
  void reconnect(std::shared_ptr<UpstreamConnection> stale, Ready ready);
  void connect(Ready ready);
  // A connection's place came free: the request waiting longest gets a new one in it.
  void connect_next_waiting();
  void housekeep();
  void drain();  // stop(): close idle sessions, finish when the last one ends
  void session_ended(ClientSession* s);
};

struct RecordingProxy::Impl {
  ProxyOptions options;
  format::Writer* writer = nullptr;
  ProxyStats stats;

  // Upstream.
  bool upstream_tls = false;
  std::string upstream_host, upstream_authority;
  tcp::resolver::results_type upstream_endpoints;
  std::unique_ptr<ssl::context> client_tls;    // listener
  std::unique_ptr<ssl::context> upstream_tls_context;

  // Clock: unix ns, from a steady clock anchored once.
  std::chrono::steady_clock::time_point t0;
  std::int64_t unix0 = 0;
  std::int64_t now_ns() const {
    return unix0 + std::chrono::duration_cast<std::chrono::nanoseconds>(
                       std::chrono::steady_clock::now() - t0).count();
  }
  // The steady clock's time at unix ns `unix_ns` (one of now_ns()'s readings).
  std::chrono::steady_clock::time_point steady_at(std::int64_t unix_ns) const {
    return t0 + std::chrono::nanoseconds(unix_ns - unix0);
  }

  std::vector<std::unique_ptr<Worker>> workers;
  std::unique_ptr<tcp::acceptor> acceptor;  // on workers[0]
  // After a failed accept (out of descriptors: the connection stays in the backlog, so an
  // immediate retry fails again at once), the next waits this long instead of spinning.
  std::unique_ptr<asio::steady_timer> accept_pause;  // on workers[0]
  std::size_t next_worker = 0;
  std::atomic<std::uint64_t> next_connection{1};
  std::atomic<std::uint64_t> open_sessions{0};
  std::atomic<bool> stopping{false};
  std::string bound;

  // Finished exchanges -> the recorder thread.
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::vector<PreparedExchange> queue;  // swapped whole with the recorder's batch
  std::size_t queued_bytes = 0;
  std::size_t producers_waiting = 0;  // workers blocked on a full queue
  bool recorder_stop = false;
  std::thread recorder_thread;
  std::unique_ptr<TraceRecorder> recorder;
  Status recorder_status;

  void accept();
  // A worker's finished exchange: prepared for the trace on that worker (while it is in the
  // worker's cache), then queued for the recorder thread.
  void record(HttpExchange&& x);
  void record_loop();
};

}  // namespace reprise::capture
