#include "reprise/capture/recording_proxy.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <charconv>
#include <utility>

#include <unistd.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>

#include "proxy_session.hpp"
#include "reprise/capture/error.hpp"
#include "reprise/text.hpp"

namespace reprise::capture {

namespace {

constexpr std::int64_t kHousekeepMs = 500;
constexpr std::int64_t kRecordEveryMs = 5;
// How long accepting pauses after a failed accept() (see Impl::accept_pause).
constexpr std::chrono::milliseconds kAcceptPause{50};

// "host:port" / "[v6]:port" -> host, port; false when malformed.
bool split_host_port(std::string_view text, std::string& host, std::uint16_t& port) {
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') return false;
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return false;
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  }
  unsigned p = 0;
  const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), p);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || p > 65535 || host.empty()) return false;
  port = static_cast<std::uint16_t>(p);
  return true;
}

}  // namespace

// ---- requests in progress, for the recorder's watermark --------------------------------

std::int64_t Worker::started(RequestStart& s) {
  if (s.linked) ended(s);
  // The recorder reads its clock, then each worker's oldest: a start this worker read from the
  // clock but has not published yet could be older than a watermark taken meanwhile, and its
  // exchange would be written late. So with no request in progress the oldest is held at the
  // bottom first (sequentially consistent: the clock is read after it); a recorder that does
  // not see the hold read its clock before this start did.
  if (oldest_start == nullptr) oldest.store(INT64_MIN);
  const std::int64_t t = proxy.now_ns();
  s.t = t;
  s.older = newest_start;
  s.newer = nullptr;
  s.linked = true;
  (newest_start != nullptr ? newest_start->newer : oldest_start) = &s;
  newest_start = &s;
  oldest.store(oldest_start->t, std::memory_order_release);
  return t;
}

// ---- the upstream pool (one per worker thread) -------------------------------------------

void Worker::acquire(ClientSession* who, Ready ready) {
  while (!idle.empty()) {
    auto c = std::move(idle.back());
    idle.pop_back();
    if (c->stream.is_open()) return ready(std::move(c), {});
    --upstream_open;
  }
  if (upstream_open < upstream_limit) return connect(std::move(ready));
  ++proxy.stats.upstream_waits;
  waiting.push_back({who, std::move(ready)});
}

void Worker::forget(ClientSession* who) {
  std::erase_if(waiting, [who](const Waiter& w) { return w.session == who; });
}

void Worker::release(std::shared_ptr<UpstreamConnection> c, bool reusable) {
  if (!c) return;
  if (!reusable || draining) {
    c->stream.close();
    --upstream_open;
    return connect_next_waiting();
  }
  c->idle_since_ns = proxy.now_ns();
  if (!waiting.empty()) {
    auto next = std::move(waiting.front().ready);
    waiting.pop_front();
    return next(std::move(c), {});
  }
  idle.push_back(std::move(c));
}

void Worker::reconnect(std::shared_ptr<UpstreamConnection> stale, Ready ready) {
  stale->stream.close();
  --upstream_open;  // connect() takes the place again
  connect(std::move(ready));
}

void Worker::connect_next_waiting() {
  if (waiting.empty()) return;
  auto next = std::move(waiting.front().ready);
  waiting.pop_front();
  connect(std::move(next));
}

void Worker::connect(Ready ready) {
  ++upstream_open;
  ++proxy.stats.upstream_connections;
  auto c = std::make_shared<UpstreamConnection>(io, poller.get());
  auto timer = std::make_shared<asio::steady_timer>(io);
  // Set when the attempt ends: a timer that expired in the same turn as a successful connect
  // (its handler already queued, so cancel() no longer stops it) must not close a connection
  // that is in a session's hands by then.
  auto settled = std::make_shared<bool>(false);
  timer->expires_after(std::chrono::nanoseconds(proxy.options.connect_timeout_ns));
  timer->async_wait([c, settled](const error_code& ec) {
    if (!ec && !*settled) c->stream.close();  // the connect (or handshake) below fails with operation_aborted
  });
  auto done = [this, c, timer, settled, ready = std::move(ready)](const error_code& ec) mutable {
    *settled = true;
    timer->cancel();
    if (ec) {
      c->stream.close();
      --upstream_open;
      // The next request tries for itself (the upstream may be back) rather than wait for a
      // connection no one will release.
      connect_next_waiting();
      return ready(nullptr, ec);
    }
    ready(std::move(c), {});
  };
  asio::async_connect(c->stream.socket(), proxy.upstream_endpoints,
                      [this, c, done = std::move(done)](const error_code& ec, const tcp::endpoint&) mutable {
                        if (ec) return done(ec);
                        error_code ignored;
                        c->stream.socket().set_option(tcp::no_delay(true), ignored);
                        if (!proxy.upstream_tls) {
                          c->stream.watch();
                          return done({});
                        }
                        c->stream.use_tls(*proxy.upstream_tls_context);
                        // SNI (SSL_set_tlsext_host_name, spelled out: the macro casts old-style).
                        SSL_ctrl(c->stream.tls()->native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME,
                                 TLSEXT_NAMETYPE_host_name, const_cast<char*>(proxy.upstream_host.c_str()));
                        if (!proxy.options.insecure_upstream)
                          c->stream.tls()->set_verify_callback(ssl::host_name_verification(proxy.upstream_host));
                        c->stream.tls()->async_handshake(ssl::stream_base::client, std::move(done));
                      });
}

void Worker::housekeep() {
  const std::int64_t t = proxy.now_ns();
  for (auto it = idle.begin(); it != idle.end();) {
    if (t - (*it)->idle_since_ns > proxy.options.idle_timeout_ns || !(*it)->stream.is_open()) {
      (*it)->stream.close();
      it = idle.erase(it);
      --upstream_open;
    } else {
      ++it;
    }
  }
  // Not re-armed once draining: a wait that already fired cannot be cancelled, and a timer
  // that keeps re-arming would keep io.run() from returning.
  if (draining) return;
  housekeeping.expires_after(std::chrono::milliseconds(kHousekeepMs));
  housekeeping.async_wait([this](const error_code& ec) {
    if (!ec) housekeep();
  });
}

void Worker::drain() {
  draining = true;
  // Past the drain deadline, cut what is still in flight.
  drain_deadline.expires_after(std::chrono::nanoseconds(proxy.options.drain_timeout_ns));
  drain_deadline.async_wait([this](const error_code& ec) {
    if (ec) return;
    std::vector<ClientSession*> left(sessions.begin(), sessions.end());
    for (auto* s : left) s->cut();
  });
  for (auto& c : idle) c->stream.close();
  upstream_open -= idle.size();
  idle.clear();
  std::vector<ClientSession*> now(sessions.begin(), sessions.end());
  for (auto* s : now) s->drain();
  session_ended(nullptr);
}

void Worker::session_ended(ClientSession* s) {
  if (s != nullptr) sessions.erase(s);
  if (draining && sessions.empty()) {
    housekeeping.cancel();
    drain_deadline.cancel();
    // The poller's wait ends with it (posted: this may run inside its delivery of events).
    // A stream that outlives it, or an upstream connection still completing, closes on its own.
    asio::post(io, [this] { poller.reset(); });
    work.reset();  // io.run() returns once the last handlers have run
  }
}

// ---- the proxy ---------------------------------------------------------------------------

namespace {

// An accepted descriptor on its way to a worker: closed if it never becomes a socket there.
class AcceptedFd {
 public:
  explicit AcceptedFd(int fd) : fd_(fd) {}
  AcceptedFd(AcceptedFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  AcceptedFd& operator=(AcceptedFd&&) = delete;
  ~AcceptedFd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  void taken() { fd_ = -1; }  // now a socket's

 private:
  int fd_;
};

}  // namespace

// Accepts on the first worker's thread and hands the descriptor itself to the next worker,
// which makes it a socket of its own io_context there: every socket is then registered, used
// and closed on one thread, which lets the workers' reactors run without I/O locks.
void RecordingProxy::Impl::accept() {
  acceptor->async_accept([this](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || stopping) return;
    if (ec) {
      ++stats.accept_failures;
      accept_pause->expires_after(kAcceptPause);
      accept_pause->async_wait([this](const error_code& waited) {
        if (!waited && !stopping) accept();
      });
      return;
    }
    ++stats.connections;
    error_code failed;
    const tcp protocol = socket.local_endpoint(failed).protocol();
    if (!failed && open_sessions < options.max_client_connections) {
      AcceptedFd fd(socket.release(failed));
      if (!failed) {
        ++open_sessions;
        Worker& target = *workers[next_worker];
        next_worker = (next_worker + 1) % workers.size();
        asio::post(target.io, [this, &target, protocol, fd = std::move(fd)]() mutable {
          tcp::socket s(target.io);
          error_code assigned;
          s.assign(protocol, fd.get(), assigned);
          if (assigned) {
            --open_sessions;
            ++stats.connections_refused;
            return;
          }
          fd.taken();
          std::make_shared<ClientSession>(target, std::move(s))->start();
        });
      }
    }
    // Refused, or the descriptor could not be taken: the socket (if it still has it) closes.
    if (failed || socket.is_open()) ++stats.connections_refused;
    accept();
  });
}

void RecordingProxy::Impl::record(HttpExchange&& x) {
  PreparedExchange p = recorder->prepare(std::move(x));
  const std::size_t bytes = p.bytes;
  std::unique_lock lock(queue_mu);
  if (queued_bytes + bytes > options.max_queued_bytes && !queue.empty()) {
    ++stats.record_queue_waits;
    ++producers_waiting;
    queue_cv.notify_all();  // the recorder takes the queue at once
    queue_cv.wait(lock, [&] { return queued_bytes + bytes <= options.max_queued_bytes || queue.empty(); });
    --producers_waiting;
  }
  queued_bytes += bytes;
  queue.push_back(std::move(p));
  // No wake-up per exchange: the recorder takes the queue every kRecordEveryMs, which costs a
  // few milliseconds of recording delay instead of a context switch per request.
}

void RecordingProxy::Impl::record_loop() {
  std::vector<PreparedExchange> batch;
  for (;;) {
    // The watermark is read before the queue is taken: an exchange handed over before its
    // start left a worker's set is in this batch (SPEC: written in start order).
    std::int64_t watermark = now_ns();
    for (const auto& w : workers) watermark = std::min<std::int64_t>(watermark, w->oldest.load());
    bool stop = false;
    {
      std::unique_lock lock(queue_mu);
      queue_cv.wait_for(lock, std::chrono::milliseconds(kRecordEveryMs),
                        [&] { return recorder_stop || producers_waiting > 0; });
      batch.swap(queue);
      queued_bytes = 0;
      stop = recorder_stop && batch.empty();
      if (producers_waiting > 0) queue_cv.notify_all();
    }
    for (auto& p : batch) {
      if (recorder_status) recorder_status = recorder->add(std::move(p));
      else ++stats.unrecorded_after_error;
    }
    batch.clear();
    if (recorder_status) recorder_status = recorder->release(watermark);
    if (recorder_status && writer != nullptr) recorder_status = writer->poll();
    if (stop) return;
  }
}

RecordingProxy::RecordingProxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

RecordingProxy::~RecordingProxy() {
  if (impl_->acceptor) {
    stop();
    (void)finish();
  }
}

Result<std::unique_ptr<RecordingProxy>> RecordingProxy::start(ProxyOptions options, format::Writer* writer) {
  auto impl = std::make_unique<Impl>();
  Impl& p = *impl;
  p.options = std::move(options);
  p.writer = writer;
  if (p.options.record && writer == nullptr)
    return fail(errc::bad_option, "-o", "a trace file to record into (or --no-record)");

  // Upstream: http(s)://host[:port], nothing after.
  std::string_view up = p.options.upstream;
  std::uint16_t default_port = 80;
  if (up.substr(0, 8) == "https://") {
    p.upstream_tls = true;
    default_port = 443;
    up.remove_prefix(8);
  } else if (up.substr(0, 7) == "http://") {
    up.remove_prefix(7);
  } else {
    return fail(errc::bad_option, "--upstream", "'" + p.options.upstream + "': expected http://host[:port] or https://host[:port]");
  }
  if (!up.empty() && up.back() == '/') up.remove_suffix(1);
  if (up.empty() || up.find_first_of("/?#") != std::string_view::npos)
    return fail(errc::bad_option, "--upstream", "'" + p.options.upstream + "': give scheme, host and port only");
  std::uint16_t port = default_port;
  if (!split_host_port(up, p.upstream_host, port)) {
    p.upstream_host = std::string(up);
    if (p.upstream_host.front() == '[') p.upstream_host = p.upstream_host.substr(1, p.upstream_host.size() - 2);
  }
  p.upstream_authority = std::string(up);

  unsigned threads = p.options.threads != 0 ? p.options.threads : std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < threads; ++i) {
    auto& w = p.workers.emplace_back(std::make_unique<Worker>(p));
    // Without one (the system refused an epoll instance) the worker's streams stay with Asio.
    if (auto poller = net::ReadinessPoller::create(w->io)) w->poller = std::move(*poller);
  }
  // Each thread keeps its own share of the upstream pool; the shares add up to the limit.
  if (p.options.max_upstream_connections < threads)
    return fail(errc::bad_option, "--max-upstream-connections",
                std::to_string(p.options.max_upstream_connections) + " is fewer than the " +
                    std::to_string(threads) + " threads, each of which needs a connection of its own: "
                    "raise it or lower --threads");
  for (unsigned i = 0; i < threads; ++i)
    p.workers[i]->upstream_limit = p.options.max_upstream_connections / threads +
                                   (i < p.options.max_upstream_connections % threads ? 1 : 0);

  {
    tcp::resolver resolver(p.workers[0]->io);
    error_code ec;
    p.upstream_endpoints = resolver.resolve(p.upstream_host, std::to_string(port), ec);
    if (ec || p.upstream_endpoints.empty())
      return fail(errc::bad_option, "--upstream", "'" + p.upstream_host + "' does not resolve: " + ec.message());
  }

  if (!p.upstream_tls && (!p.options.upstream_ca.empty() || p.options.insecure_upstream))
    return fail(errc::bad_option, p.options.insecure_upstream ? "--insecure-upstream" : "--upstream-ca",
                "the upstream is http://: there is no certificate to verify");
  if (!p.options.upstream_ca.empty() && p.options.insecure_upstream)
    return fail(errc::bad_option, "--upstream-ca/--insecure-upstream",
                "give one: --upstream-ca verifies the upstream with this CA, --insecure-upstream verifies nothing");
  // Each TLS file is named with what is wrong with it: missing, unreadable, not PEM.
  auto load = [](const char* flag, const std::string& path, const auto& call) -> Status {
    std::string why;
    if (::access(path.c_str(), R_OK) != 0) {
      why = std::strerror(errno);
    } else {
      try {
        call();
        return {};
      } catch (const boost::system::system_error& e) {
        // OpenSSL's reason ("no start line": not PEM) says more than asio's "asio.ssl error".
        const char* reason = e.code().category() == asio::error::get_ssl_category()
                                 ? ERR_reason_error_string(static_cast<unsigned long>(e.code().value()))
                                 : nullptr;
        why = reason != nullptr ? reason : e.code().message();
      }
    }
    return fail(errc::bad_option, flag, "'" + path + "': " + why + " (a PEM file is expected)");
  };
  try {
    if (!p.options.tls_cert.empty() || !p.options.tls_key.empty()) {
      if (p.options.tls_cert.empty() || p.options.tls_key.empty())
        return fail(errc::bad_option, "--tls-cert/--tls-key", "give both, or neither");
      p.client_tls = std::make_unique<ssl::context>(ssl::context::tls_server);
      if (auto s = load("--tls-cert", p.options.tls_cert,
                        [&] { p.client_tls->use_certificate_chain_file(p.options.tls_cert); });
          !s)
        return s.take_error();
      if (auto s = load("--tls-key", p.options.tls_key,
                        [&] { p.client_tls->use_private_key_file(p.options.tls_key, ssl::context::pem); });
          !s)
        return s.take_error();
    }
    if (p.upstream_tls) {
      p.upstream_tls_context = std::make_unique<ssl::context>(ssl::context::tls_client);
      if (p.options.insecure_upstream) {
        p.upstream_tls_context->set_verify_mode(ssl::verify_none);
      } else {
        p.upstream_tls_context->set_verify_mode(ssl::verify_peer);
        if (p.options.upstream_ca.empty()) {
          p.upstream_tls_context->set_default_verify_paths();
        } else if (auto s = load("--upstream-ca", p.options.upstream_ca,
                                 [&] { p.upstream_tls_context->load_verify_file(p.options.upstream_ca); });
                   !s) {
          return s.take_error();
        }
      }
    }
  } catch (const boost::system::system_error& e) {
    return fail(errc::bad_option, "TLS", std::string("set-up failed: ") + e.what());
  }

  std::string host;
  std::uint16_t listen_port = 0;
  if (!split_host_port(p.options.listen, host, listen_port))
    return fail(errc::bad_option, "--listen", "'" + p.options.listen + "': expected HOST:PORT, e.g. 127.0.0.1:8080");
  error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return fail(errc::bad_option, "--listen", "'" + host + "' is not an IP address");
  p.acceptor = std::make_unique<tcp::acceptor>(p.workers[0]->io);
  p.accept_pause = std::make_unique<asio::steady_timer>(p.workers[0]->io);
  const tcp::endpoint endpoint(address, listen_port);
  p.acceptor->open(endpoint.protocol(), ec);
  if (!ec) p.acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) p.acceptor->bind(endpoint, ec);
  if (!ec) p.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail(errc::listen_failed, "--listen", p.options.listen + ": " + ec.message());
  const auto local = p.acceptor->local_endpoint();
  p.bound = (local.address().is_v6() ? "[" + local.address().to_string() + "]" : local.address().to_string()) +
            ":" + std::to_string(local.port());

  p.t0 = std::chrono::steady_clock::now();
  p.unix0 = std::chrono::duration_cast<std::chrono::nanoseconds>(
                std::chrono::system_clock::now().time_since_epoch()).count();
  if (p.options.record) {
    p.recorder = std::make_unique<TraceRecorder>(*writer, p.options.recorder);
    p.recorder_thread = std::thread([&p] { p.record_loop(); });
  }
  p.accept();
  for (auto& w : p.workers) {
    Worker* wp = w.get();
    asio::post(wp->io, [wp] { wp->housekeep(); });
    wp->thread = std::thread([wp] { wp->io.run(); });
  }
  return std::unique_ptr<RecordingProxy>(new RecordingProxy(std::move(impl)));
}

std::string RecordingProxy::listen_address() const { return impl_->bound; }

void RecordingProxy::stop() {
  Impl& p = *impl_;
  if (p.stopping.exchange(true)) return;
  asio::post(p.workers[0]->io, [&p] {
    error_code ignored;
    p.acceptor->close(ignored);
    p.accept_pause->cancel();
  });
  for (auto& w : p.workers) {
    Worker* wp = w.get();
    asio::post(wp->io, [wp] { wp->drain(); });
  }
}

Status RecordingProxy::finish() {
  Impl& p = *impl_;
  if (!p.acceptor) return p.recorder_status;
  for (auto& w : p.workers)
    if (w->thread.joinable()) w->thread.join();
  p.acceptor.reset();
  p.accept_pause.reset();
  if (p.recorder_thread.joinable()) {
    {
      std::lock_guard lock(p.queue_mu);
      p.recorder_stop = true;
    }
    p.queue_cv.notify_all();
    p.recorder_thread.join();
  }
  if (p.recorder && p.recorder_status) p.recorder_status = p.recorder->finish();
  return p.recorder_status;
}

const ProxyStats& RecordingProxy::stats() const { return impl_->stats; }
const RecorderStats& RecordingProxy::recorder_stats() const {
  static const RecorderStats none;
  return impl_->recorder ? impl_->recorder->stats() : none;
}
const SessionStats& RecordingProxy::session_stats() const {
  static const SessionStats none;
  return impl_->recorder ? impl_->recorder->session_stats() : none;
}

}  // namespace reprise::capture
