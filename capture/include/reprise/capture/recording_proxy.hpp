#pragma once
// RecordingProxy: a reverse proxy in front of one upstream that records every exchange passing
// through it into a trace — how to capture where packets cannot be seen, HTTPS included.
//
// Threads: `threads` io_contexts, one thread each; a client connection lives on one of them
// (round robin) with the upstream connections it borrows from that thread's pool, so no
// connection state is shared. A recorder thread takes finished exchanges from a bounded queue
// and runs the TraceRecorder (sessions, filters, redaction, order — the same code as packet
// capture) into the writer.
//
// Per client connection, one request at a time (pipelined requests wait in the read buffer, so
// answers go back in order): the head is read whole (header limit), checked, forwarded with
// hop-by-hop fields dropped; the body streams through with its own framing; the answer streams
// back the same way, its Connection field saying whether the client's connection stays (it
// closes when the client or the upstream asked, or the proxy drains). Never an open proxy: an
// absolute-form target for another host is refused with 400; Upgrade and CONNECT with 501
// (counted); a request whose Transfer-Encoding does not end in chunked with 400 and a close
// (RFC 9112 6.3). "Expect: 100-continue" is answered by the proxy once the head is upstream
// (the upstream never sees it), as nginx does. Upstream failures answer the client 502
// (refused, reset, garbage) or 504 (no answer within the response timeout), recorded as such
// and counted; a timeout is counted against the side that stopped.
//
// Limits (ProxyOptions): client connections (past it new ones are closed at once, counted),
// head size (431), the recorded body copy (--max-body; the forwarded body is not limited),
// timeouts for a client's request, an upstream's answer and idle keep-alive connections, and
// upstream connections per thread (requests wait for one, counted).
//
// Stop: stop() closes the listener; idle client connections close; requests in flight finish
// within drain_timeout, then are cut; finish() then writes what is held and the footer.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "reprise/capture/trace_recorder.hpp"
#include "reprise/format/writer.hpp"
#include "reprise/result.hpp"

namespace reprise::capture {

struct ProxyOptions {
  std::string listen = "127.0.0.1:8080";     // HOST:PORT (port 0: any free port)
  std::string upstream;                      // http://host[:port] or https://host[:port]
  unsigned threads = 0;                      // 0: one per core
  std::size_t max_client_connections = 4096;
  std::size_t max_upstream_connections = 256;  // in total, shared out over the threads
  std::size_t header_limit = 64 * 1024;
  std::size_t max_body = 1 << 20;            // recorded copy of each body
  // A client's request: its head whole within this of its first byte; its body, progress
  // (a read) within this.
  std::int64_t request_timeout_ns = 30'000'000'000;
  std::int64_t response_timeout_ns = 60'000'000'000;  // the upstream's answer
  std::int64_t connect_timeout_ns = 5'000'000'000;
  std::int64_t idle_timeout_ns = 60'000'000'000;      // keep-alive connections, both sides
  std::int64_t drain_timeout_ns = 10'000'000'000;
  bool x_forwarded_for = false;
  std::string tls_cert, tls_key;             // both: the listener speaks HTTPS
  std::string upstream_ca;                   // CA file for an https upstream (default: system)
  bool insecure_upstream = false;            // do not verify the upstream's certificate
  bool record = true;                        // false: a plain reverse proxy
  std::size_t max_queued_bytes = 64 << 20;   // finished exchanges waiting for the recorder
  RecorderOptions recorder;
};

struct ProxyStats {
  std::atomic<std::uint64_t> connections{0};          // client connections accepted
  std::atomic<std::uint64_t> connections_refused{0};  // past max_client_connections
  std::atomic<std::uint64_t> tls_handshake_failures{0};
  std::atomic<std::uint64_t> exchanges{0};            // answered (upstream or proxy)
  std::atomic<std::uint64_t> bad_requests{0};         // 400: unparsable, bad framing, foreign target
  std::atomic<std::uint64_t> header_too_large{0};     // 431
  std::atomic<std::uint64_t> upgrades_refused{0};     // 501: Upgrade, CONNECT
  std::atomic<std::uint64_t> upstream_connect_failures{0};  // 502
  std::atomic<std::uint64_t> upstream_resets{0};            // 502: closed or reset mid-answer
  std::atomic<std::uint64_t> upstream_bad_responses{0};     // 502: not HTTP
  std::atomic<std::uint64_t> upstream_timeouts{0};          // 504: no connection, not reading, not answering
  std::atomic<std::uint64_t> client_timeouts{0};      // request not whole in time, or answer not read
  std::atomic<std::uint64_t> client_aborts{0};        // client gone before its answer was sent
  std::atomic<std::uint64_t> accept_failures{0};      // accept() failed (e.g. out of descriptors)
  std::atomic<std::uint64_t> upstream_connections{0}; // opened
  std::atomic<std::uint64_t> upstream_waits{0};       // requests that waited for a pooled one
  std::atomic<std::uint64_t> upstream_retries{0};     // sent again: a pooled one had closed
  std::atomic<std::uint64_t> bytes_from_clients{0};
  std::atomic<std::uint64_t> bytes_to_clients{0};
  std::atomic<std::uint64_t> record_queue_waits{0};   // a thread waited for the recorder
  std::atomic<std::uint64_t> cut_at_drain{0};         // in flight when the drain timed out
  // Exchanges not recorded because writing the trace had failed (finish() returns the error).
  std::atomic<std::uint64_t> unrecorded_after_error{0};

  template <typename F>
  void for_each(F&& f) const {
    f("proxy.connections", connections.load());
    f("proxy.connections_refused", connections_refused.load());
    f("proxy.tls_handshake_failures", tls_handshake_failures.load());
    f("proxy.exchanges", exchanges.load());
    f("proxy.bad_requests", bad_requests.load());
    f("proxy.header_too_large", header_too_large.load());
    f("proxy.upgrades_refused", upgrades_refused.load());
    f("proxy.upstream_connect_failures", upstream_connect_failures.load());
    f("proxy.upstream_resets", upstream_resets.load());
    f("proxy.upstream_bad_responses", upstream_bad_responses.load());
    f("proxy.upstream_timeouts", upstream_timeouts.load());
    f("proxy.client_timeouts", client_timeouts.load());
    f("proxy.client_aborts", client_aborts.load());
    f("proxy.accept_failures", accept_failures.load());
    f("proxy.upstream_connections", upstream_connections.load());
    f("proxy.upstream_waits", upstream_waits.load());
    f("proxy.upstream_retries", upstream_retries.load());
    f("proxy.bytes_from_clients", bytes_from_clients.load());
    f("proxy.bytes_to_clients", bytes_to_clients.load());
    f("proxy.record_queue_waits", record_queue_waits.load());
    f("proxy.cut_at_drain", cut_at_drain.load());
    f("proxy.unrecorded_after_error", unrecorded_after_error.load());
  }
};

class RecordingProxy {
 public:
  // Binds, resolves the upstream and starts the threads. `writer` (a trace writer) must outlive
  // the proxy; null with record == false. Errors: errc::bad_option naming the flag (listen
  // address, upstream URL, TLS files), errc::listen_failed when the address cannot be bound.
  static Result<std::unique_ptr<RecordingProxy>> start(ProxyOptions options, format::Writer* writer);
  ~RecordingProxy();
  RecordingProxy(const RecordingProxy&) = delete;
  RecordingProxy& operator=(const RecordingProxy&) = delete;

  std::string listen_address() const;  // as bound, HOST:PORT
  // Any thread (not a signal handler): stop accepting and drain (see above).
  void stop();
  // Blocks until stopped and drained, then writes what the recorder holds and closes the
  // writer's content (the caller closes the writer). The recorder's error, if any.
  Status finish();

  const ProxyStats& stats() const;
  const RecorderStats& recorder_stats() const;  // after finish()
  const SessionStats& session_stats() const;    // after finish()

  struct Impl;

 private:
  explicit RecordingProxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace reprise::capture
