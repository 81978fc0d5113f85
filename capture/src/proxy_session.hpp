#pragma once
// ClientSession: one client connection of the recording proxy, on its worker's thread.
//
//   head      read the request head (bytes already buffered first: pipelined requests)
//   check     refuse a foreign absolute-form target (400), Upgrade/CONNECT (501), a head
//             over the limit (431), bytes that are not HTTP or a body framing the upstream
//             could read otherwise (400)
//   upstream  borrow a pooled connection, write the head and stream the body; with
//             "Expect: 100-continue" answer 100 Continue once the head is upstream, then read
//             the body (the upstream never sees the expectation). A pooled connection the
//             upstream closed while it idled (its keep-alive timeout shorter than ours) fails
//             before any answer byte: the request, if whole in hand, goes again once on a
//             fresh connection in the same pool slot (counted)
//   answer    stream the answer back (interim 1xx answers forwarded as they come), its
//             Connection field saying what happens next: close when the client or the
//             upstream asked for it or the proxy is draining
//   record    hand the exchange to the recorder, return the upstream connection, and go back
//             to head unless the answer said close
// One deadline bounds each phase: idle keep-alive, the client's request, the upstream's answer.
// It waits on one side at a time, the one whose read or write is pending, and its timeout is
// counted against that side. Its timer is lazy: a phase that moves the deadline later leaves the
// pending wait alone, and a wait that fires before the deadline re-arms for it — so an exchange
// costs no timer operation (five per exchange were about 1.5 % of the proxy's CPU in a profile).

#include <memory>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "proxy_internal.hpp"
#include "reprise/capture/message_relay.hpp"

namespace reprise::capture {

class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  ClientSession(Worker& worker, tcp::socket socket);
  ~ClientSession() { worker_.ended(start_); }  // close() unlinks it; this covers a session never closed
  void start();
  // Drain: close now if between requests, else after the current exchange.
  void drain();
  // The drain deadline passed: cut whatever is in progress.
  void cut();

 private:
  enum class Phase { Head, Upstream, Answer, Closed };
  // Whose progress a deadline waits for: its timeout is counted against that side.
  enum class Side { Client, Upstream };

  void read_client();
  void on_client_read(const error_code& ec, std::size_t n);
  // A request's first byte arrived: its start time (its head's deadline counts from it).
  void request_started();
  void on_request_bytes();
  void begin_exchange();
  void on_upstream(std::shared_ptr<UpstreamConnection> c, const error_code& ec);
  void send_upstream();
  void on_upstream_written(const error_code& ec);
  void read_upstream();
  void on_upstream_read(const error_code& ec, std::size_t n);
  void on_answer_bytes();
  // Writes out_ to the client, then: the exchange is done, more answer, or (after a 100
  // Continue) the request body.
  enum class After { Done, ReadUpstream, ReadClient };
  void write_client(After after);
  // Readies answer_ for the upstream's answer to the current request (no body after a HEAD)
  // and for what it tells the client about its connection.
  void expect_answer();
  void exchange_done();
  // A reused connection failed before any answer byte: send again on a fresh one (once).
  bool retry_on_fresh_connection();
  void fail_upstream(unsigned status, const std::string& why, std::atomic<std::uint64_t>& counter);
  void refuse(unsigned status, const std::string& why);
  void respond_locally(unsigned status, const std::string& reason, const std::string& body);
  // The client's connection failed (a read or a write) before its exchange ended: counted as a
  // client abort; what went upstream is recorded.
  void client_left();
  void record(bool locally_answered);
  // The current phase must progress on `waiting_on`'s side within timeout_ns from now.
  void arm(std::int64_t timeout_ns, Side waiting_on);
  void arm_until(std::chrono::steady_clock::time_point deadline, Side waiting_on);
  void arm_at_deadline();
  void on_deadline();
  void close();

  Worker& worker_;
  RecordingProxy::Impl& proxy_;
  ProxyStream client_;
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point deadline_{}, timer_at_{};
  Phase deadline_phase_ = Phase::Head;
  Side deadline_side_ = Side::Client;
  bool timer_pending_ = false;  // a wait on timer_ is pending, due at timer_at_
  Phase phase_ = Phase::Head;
  bool answering_locally_ = false;  // respond_locally() is writing: the connection ends after it
  bool draining_ = false;
  bool close_after_ = false;

  std::vector<std::uint8_t> in_;        // client bytes not yet consumed
  std::vector<std::uint8_t> up_in_;     // upstream bytes read, not yet consumed
  bool up_in_stalled_ = false;          // their last parse consumed none: read before parsing again
  std::string out_;                     // bytes being written (to upstream or client)
  MessageRelay request_;
  MessageRelay answer_;
  std::unique_ptr<std::uint8_t[]> client_buf_, upstream_buf_;  // what one read brings
  std::shared_ptr<UpstreamConnection> upstream_;
  bool request_sent_ = false;           // the whole request went upstream
  bool continue_owed_ = false;          // Expect: 100-continue: answered once the head is upstream
  bool upstream_closed_ = false;        // the upstream connection ended with this answer
  bool reused_ = false;                 // the request went on a pooled connection
  bool retried_ = false;                // ... which failed, and it went again on a fresh one
  std::string resend_;                  // the whole request, kept while a retry is possible
  bool keep_for_resend_ = false;        // out_ becomes resend_ once written

  std::uint64_t connection_id_ = 0;
  std::uint32_t index_ = 0;
  IpEndpoint client_ep_, server_ep_;
  std::string forwarded_for_;  // the client's address, with --x-forwarded-for
  std::int64_t request_first_ = 0, request_last_ = 0, response_first_ = 0, response_last_ = 0;
  RequestStart start_;  // request_first_, in the worker's list while the request is in progress
  ExchangeFlags flags_ = ExchangeFlags::None;
};

}  // namespace reprise::capture
