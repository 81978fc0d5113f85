#pragma once
// ClientConnection: one keep-alive HTTP/1.1 connection to the target, one request at a time.
// Lives on the engine's network thread (no locking). The engine owns it through a shared_ptr;
// pending handlers hold another, so a connection outlives its last callback.
//
// Asio connects it; once connected, the socket is released from Asio and watched by the
// engine's ReadinessPoller: the request is written with send() at once, and the answer read
// with recv() only when the poller reports bytes (readiness_poller.hpp says why: no read per
// request that only finds EAGAIN, and no handler allocation per read or write). A request never
// ends inside start(): a failed write is handled from the io_context.
//
//   start(request)  connects (bounded by the connect timeout) if not yet connected, writes the
//                   request, reads the response (bounded by the request timeout), then calls
//                   on_done once with the outcome and whether the connection can carry another
//                   request.
//   close()         aborts whatever is in progress; a running request ends as `abort_error`.
//   expire(now)     ends a request whose connect or response deadline has passed (Connect or
//                   Timeout). The engine sweeps its busy connections every few milliseconds
//                   instead of arming a timer per request: two timer syscalls and two handler
//                   runs per request saved, at a cost of a few ms of timeout precision.
//   still_open(now) false when the server has closed (or written to) the idle connection.
//
// A server closes a kept-alive connection when it has been idle for its keep-alive timeout, and
// a request written just then fails without an answer. That is not the target failing: an
// idempotent request that fails that way on a reused connection, before any answer byte, goes
// once more on a fresh connection (as browsers do; RFC 9112 9.3.1 allows it for idempotent
// methods only). Its outcome says so (`retried`).

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/ip/tcp.hpp>

#include "reprise/net/readiness_poller.hpp"
#include "reprise/replay/engine.hpp"
#include "reprise/replay/response_reader.hpp"

namespace reprise::replay {

using net::ReadinessPoller;

class ClientConnection final : public std::enable_shared_from_this<ClientConnection>,
                         private ReadinessPoller::Watcher {
 public:
  using Endpoints = boost::asio::ip::tcp::resolver::results_type;
  // outcome, reusable
  using DoneHandler = std::function<void(ClientConnection&, EngineOutcome, bool)>;
  using Clock = std::function<std::int64_t()>;  // run time ns

  struct Timeouts {
    std::chrono::nanoseconds connect;
    std::chrono::nanoseconds request;
  };

  ClientConnection(boost::asio::io_context& io, ReadinessPoller& poller, const Endpoints& endpoints,
                   Timeouts timeouts, Clock clock, DoneHandler on_done);
  ~ClientConnection();

  // What of the response the outcome carries (ResponseReader's keep_body and headers).
  struct Keep {
    std::size_t body = 0;
    ResponseReader::Headers headers = ResponseReader::Headers::None;
  };

  struct Request {
    bool head = false;        // its answer has no body whatever its header says
    bool idempotent = false;  // may be sent again after a stale connection (above)
  };

  // The outcome starts filled with the request's identity, intended time and the bytes to send
  // (`outcome.wire`, written from there). `abort_error` is what a close() during this request
  // reports (Aborted).
  void start(Request request, EngineOutcome outcome, Keep keep);
  void close(OutcomeError abort_error = OutcomeError::Aborted);
  void expire(std::int64_t now_ns);
  // Checked only once idle for longer than a request round trip on a busy run takes, so a
  // run at full speed does not pay a system call per request for it.
  bool still_open(std::int64_t now_ns);

  bool busy() const { return busy_; }
  bool connected() const { return connected_; }
  bool closed() const { return closed_; }
  std::int64_t idle_since_ns() const { return idle_since_; }
  std::uint64_t key = 0;  // the per-recorded connection it serves (0 in the pool)
  std::size_t busy_slot = SIZE_MAX;  // its index in the engine's in-flight list (engine-owned)

 private:
  // Handlers carry the attempt they belong to: after a retry, the first attempt's aborted
  // operations still complete, and must not touch the second.
  // A reader for the current request's answer (request_, keep_), reused across requests.
  void reset_reader();
  void do_connect();
  void on_connect(std::uint32_t attempt, const boost::system::error_code& ec);
  void on_ready(std::uint32_t epoll_events) override;  // the poller's report
  void do_write();
  void write_more();
  void write_failed();
  void read_available(bool peer_closed);
  // The bytes of one read (n > 0) or its end: eof, or an error.
  void on_read(std::size_t n);
  void on_read_end(bool eof);
  // Closes the released socket (watched no more), or Asio's while it connects.
  void close_socket();
  // The connection broke: the request goes again on a fresh one if it may (above), else it
  // ends as Reset.
  void broken();
  // now_ns: the clock read in this handler already (0: read it).
  void finish(OutcomeError error, bool reusable, std::int64_t now_ns = 0);

  boost::asio::ip::tcp::socket socket_;  // until connected
  int fd_ = -1;                           // once connected: the released socket, ours to close
  std::uint32_t watch_ = 0;               // its poller handle
  ReadinessPoller& poller_;
  const Endpoints& endpoints_;
  Timeouts timeouts_;
  Clock clock_;
  DoneHandler on_done_;

  bool connected_ = false;
  bool busy_ = false;
  bool closed_ = false;
  bool reused_ = false;  // this request is not the connection's first
  bool writing_ = false;  // the request is not all written yet
  std::size_t written_ = 0;
  bool awaiting_room_ = false;  // output interest is on: a send stopped short
  Request request_;
  Keep keep_;
  bool retried_ = false;  // this request went again on a fresh connection
  std::uint32_t attempt_ = 0;
  std::uint64_t serial_ = 0;  // requests started on this connection, retries not counted
  std::uint32_t requests_ = 0;
  std::int64_t idle_since_ = 0;
  OutcomeError timeout_kind_ = OutcomeError::Timeout;
  std::int64_t deadline_ns_ = INT64_MAX;

  std::unique_ptr<ResponseReader> reader_;
  EngineOutcome outcome_;
  std::vector<std::uint8_t> buffer_;
};

}  // namespace reprise::replay
