#include "proxy_session.hpp"

#include <time.h>

#include <boost/beast/http/status.hpp>

#include "reprise/text.hpp"

namespace reprise::capture {

namespace {

constexpr std::size_t kReadSize = 16 * 1024;

IpEndpoint to_endpoint(const tcp::endpoint& e) {
  IpEndpoint out;
  out.port = e.port();
  if (e.address().is_v4()) {
    const auto b = e.address().to_v4().to_bytes();
    out.address[10] = 0xff;
    out.address[11] = 0xff;
    std::copy(b.begin(), b.end(), out.address.begin() + 12);
    out.family = 4;
  } else {
    const auto b = e.address().to_v6().to_bytes();
    std::copy(b.begin(), b.end(), out.address.begin());
    out.family = 6;
  }
  return out;
}

// steady_clock's time to within a few milliseconds (the kernel's tick) at a fraction of the
// cost: enough for deadlines of seconds, set five times per exchange. A deadline it makes early
// by a tick fires early by a tick; on_deadline() compares with the precise clock.
std::chrono::steady_clock::time_point coarse_now() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return std::chrono::steady_clock::time_point(std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec));
}

// The standard reason phrase (Beast keeps the table).
std::string reason_of(unsigned status) {
  return std::string(boost::beast::http::obsolete_reason(boost::beast::http::int_to_status(status)));
}

// The authority of an absolute-form target ("http://a:1/x" -> "a:1"), empty for origin-form.
std::string_view absolute_authority(std::string_view target, std::string_view& path) {
  const auto scheme = target.find("://");
  if (target.empty() || target[0] == '/' || scheme == std::string_view::npos) return {};
  const auto start = scheme + 3;
  const auto slash = target.find_first_of("/?", start);
  path = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  return target.substr(start, (slash == std::string_view::npos ? target.size() : slash) - start);
}


}  // namespace

ClientSession::ClientSession(Worker& worker, tcp::socket socket)
    : worker_(worker),
      proxy_(worker.proxy),
      client_(worker.io, worker.poller.get()),
      timer_(worker.io),
      request_(true, worker.proxy.options.header_limit, worker.proxy.options.max_body),
      answer_(false, worker.proxy.options.header_limit, worker.proxy.options.max_body),
      // Not zeroed (a read overwrites what it uses), and the session's own: the reactor performs
      // a ready socket's read before its handler runs, so sessions sharing a buffer would
      // overwrite each other's bytes.
      client_buf_(new std::uint8_t[kReadSize]),
      upstream_buf_(new std::uint8_t[kReadSize]) {
  client_.socket() = std::move(socket);
  connection_id_ = proxy_.next_connection++;
  error_code ec;
  if (auto e = client_.socket().remote_endpoint(ec); !ec) {
    client_ep_ = to_endpoint(e);
    if (proxy_.options.x_forwarded_for) forwarded_for_ = e.address().to_string();
  }
  if (auto e = client_.socket().local_endpoint(ec); !ec) server_ep_ = to_endpoint(e);
  client_.socket().set_option(tcp::no_delay(true), ec);
}

void ClientSession::start() {
  worker_.sessions.insert(this);
  if (worker_.draining) return close();  // accepted just before the listener closed
  if (!proxy_.client_tls) {
    client_.watch();
    return read_client();
  }
  client_.use_tls(*proxy_.client_tls);
  arm(proxy_.options.request_timeout_ns, Side::Client);
  client_.tls()->async_handshake(ssl::stream_base::server, [self = shared_from_this()](const error_code& ec) {
    if (self->phase_ == Phase::Closed) return;
    if (ec) {
      ++self->proxy_.stats.tls_handshake_failures;
      return self->close();
    }
    self->read_client();
  });
}

void ClientSession::read_client() {
  if (phase_ == Phase::Closed) return;
  // Between requests the idle timeout applies. A head must arrive whole within the request
  // timeout of its first byte, however slowly it trickles in; a body must make progress within
  // it (one read), so a long upload is not cut.
  if (phase_ != Phase::Head) arm(proxy_.options.request_timeout_ns, Side::Client);
  else if (request_first_ == 0) arm(proxy_.options.idle_timeout_ns, Side::Client);
  else arm_until(proxy_.steady_at(request_first_) + std::chrono::nanoseconds(proxy_.options.request_timeout_ns),
                 Side::Client);
  client_.async_read_some(asio::buffer(client_buf_.get(), kReadSize),
                          [self = shared_from_this()](const error_code& ec, std::size_t n) {
                            self->in_.insert(self->in_.end(), self->client_buf_.get(), self->client_buf_.get() + n);
                            self->on_client_read(ec, n);
                          });
}

void ClientSession::on_client_read(const error_code& ec, std::size_t n) {
  // A local answer (a 408 while this read was pending) ends the connection: what the client
  // sends meanwhile is not parsed, and out_, the answer being written, is not touched.
  if (phase_ == Phase::Closed || answering_locally_) return;
  if (n > 0) {
    proxy_.stats.bytes_from_clients += n;
    if (request_first_ == 0) request_started();
  }
  if (ec) {
    // A client that closes between requests is the normal end; anywhere else it left early.
    if (phase_ == Phase::Head && request_first_ == 0) return close();
    return client_left();
  }
  on_request_bytes();
}

void ClientSession::request_started() { request_first_ = worker_.started(start_); }

void ClientSession::on_request_bytes() {
  if (request_first_ == 0 && !in_.empty()) request_started();  // a pipelined request already buffered
  const std::size_t used = request_.feed(in_, out_);
  in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(used));
  if (request_.state() == MessageRelay::State::Error) {
    flags_ |= ExchangeFlags::ParseError;
    if (phase_ != Phase::Head) {
      ++proxy_.stats.bad_requests;
      return close();  // the body's framing broke mid-stream: nothing sensible to answer
    }
    return refuse(request_.too_large() ? 431 : 400,
                  request_.too_large() ? "request head over the proxy's limit"
                                       : "not a valid HTTP/1.x request: " + request_.error());
  }
  if (phase_ == Phase::Head) {
    if (request_.state() == MessageRelay::State::Head) return read_client();
    return begin_exchange();
  }
  // Streaming the body: forward what came, or read more.
  if (!out_.empty()) return send_upstream();
  read_client();
}

void ClientSession::begin_exchange() {
  const HttpRequest& r = request_.request();
  std::string_view path;
  const std::string_view authority = absolute_authority(r.target, path);
  if (!authority.empty()) {
    if (!iequals(authority, proxy_.upstream_authority) && !iequals(authority, proxy_.bound))
      return refuse(400, "this proxy forwards only to " + proxy_.options.upstream + ", not to " +
                             std::string(authority));
    // Origin-form upstream: rewrite the request line already in out_.
    const auto line_end = out_.find("\r\n");
    out_.replace(0, line_end, r.method + " " + std::string(path) + (r.version == 10 ? " HTTP/1.0" : " HTTP/1.1"));
  }
  if (request_.upgrade()) return refuse(501, "the proxy does not tunnel Upgrade or CONNECT");
  if (!forwarded_for_.empty())
    out_.insert(out_.find("\r\n\r\n") + 2, "X-Forwarded-For: " + forwarded_for_ + "\r\n");
  close_after_ = close_after_ || !request_.keep_alive();
  phase_ = Phase::Upstream;
  continue_owed_ = request_.expects_continue() && request_.state() != MessageRelay::State::Done;
  arm(proxy_.options.response_timeout_ns, Side::Upstream);
  worker_.acquire(this, [self = shared_from_this()](std::shared_ptr<UpstreamConnection> c, error_code ec) {
    self->on_upstream(std::move(c), ec);
  });
}

void ClientSession::on_upstream(std::shared_ptr<UpstreamConnection> c, const error_code& ec) {
  if (phase_ == Phase::Closed || answering_locally_) {  // e.g. a 504 after waiting too long for it
    if (c) worker_.release(std::move(c), true);
    return;
  }
  if (ec) return fail_upstream(502, "cannot connect to the upstream: " + ec.message(),
                               proxy_.stats.upstream_connect_failures);
  upstream_ = std::move(c);
  reused_ = upstream_->uses++ > 0;
  // A pooled connection the upstream may have closed while it idled: what is sent is kept so it
  // can go again on a fresh one (only when the whole request is in hand). It is kept by taking
  // out_'s bytes once written (or failed), not by copying them first.
  // Only an idempotent request goes again (RFC 9112 9.3.1): the upstream may have acted on it
  // before the connection failed.
  keep_for_resend_ = reused_ && !retried_ && request_.state() == MessageRelay::State::Done &&
                     is_idempotent(request_.request().method);
  resend_.clear();
  send_upstream();
}

bool ClientSession::retry_on_fresh_connection() {
  if (!reused_ || retried_ || resend_.empty() || response_first_ != 0) return false;
  retried_ = true;
  ++proxy_.stats.upstream_retries;
  out_ = std::move(resend_);
  resend_.clear();
  expect_answer();
  up_in_.clear();
  upstream_closed_ = false;
  phase_ = Phase::Upstream;
  request_sent_ = false;
  worker_.reconnect(std::move(upstream_),
                    [self = shared_from_this()](std::shared_ptr<UpstreamConnection> c, error_code ec) {
                      self->on_upstream(std::move(c), ec);
                    });
  return true;
}

void ClientSession::send_upstream() {
  arm(proxy_.options.request_timeout_ns, Side::Upstream);
  upstream_->stream.async_write(asio::buffer(out_), [self = shared_from_this()](const error_code& ec, std::size_t) {
    self->on_upstream_written(ec);
  });
}

void ClientSession::on_upstream_written(const error_code& ec) {
  if (phase_ == Phase::Closed || !upstream_) return;  // answered locally meanwhile (timeout)
  if (keep_for_resend_) {
    keep_for_resend_ = false;
    resend_.swap(out_);
  }
  if (ec) {
    if (retry_on_fresh_connection()) return;
    return fail_upstream(502, "the upstream closed the connection: " + ec.message(),
                         proxy_.stats.upstream_resets);
  }
  out_.clear();
  if (request_.state() == MessageRelay::State::Done) {
    request_sent_ = true;
    request_last_ = proxy_.now_ns();
    phase_ = Phase::Answer;
    expect_answer();
    return read_upstream();
  }
  if (continue_owed_) {
    // The body is read now, whatever the upstream does with the expectation it never saw.
    continue_owed_ = false;
    out_ = "HTTP/1.1 100 Continue\r\n\r\n";
    return write_client(After::ReadClient);
  }
  read_client();
}

void ClientSession::read_upstream() {
  // Bytes already read are parsed first, unless their last parse took none of them (a chunk-size
  // line or a head cut by the read): then only more bytes can help.
  if (!up_in_.empty() && !up_in_stalled_) return on_answer_bytes();
  up_in_stalled_ = false;
  arm(proxy_.options.response_timeout_ns, Side::Upstream);
  upstream_->stream.async_read_some(asio::buffer(upstream_buf_.get(), kReadSize),
                                    [self = shared_from_this()](const error_code& ec, std::size_t n) {
                                      self->up_in_.insert(self->up_in_.end(), self->upstream_buf_.get(),
                                                          self->upstream_buf_.get() + n);
                                      self->on_upstream_read(ec, n);
                                    });
}

void ClientSession::on_upstream_read(const error_code& ec, std::size_t n) {
  if (phase_ == Phase::Closed || !upstream_) return;  // answered locally meanwhile (timeout)
  if (n > 0 && response_first_ == 0) response_first_ = proxy_.now_ns();
  if (ec) {
    // The upstream closed: what it sent may complete the answer (a body delimited by the close).
    upstream_closed_ = true;
    const std::size_t used = answer_.feed(up_in_, out_);
    up_in_.erase(up_in_.begin(), up_in_.begin() + static_cast<std::ptrdiff_t>(used));
    const bool eof = ec == asio::error::eof || ec == ssl::error::stream_truncated;
    if (eof) answer_.eof();
    if (answer_.state() == MessageRelay::State::Done) return write_client(After::Done);
    if (answer_.state() == MessageRelay::State::Head ||
        (answer_.state() == MessageRelay::State::Error && out_.empty() && response_first_ == 0) ||
        (answer_.state() == MessageRelay::State::Error && answer_.response().status == 0)) {
      if (retry_on_fresh_connection()) return;
      return fail_upstream(502, "the upstream closed the connection without answering",
                           proxy_.stats.upstream_resets);
    }
    // Part of the answer already went to the client: all it can be told is the close.
    ++proxy_.stats.upstream_resets;
    flags_ |= ExchangeFlags::ResponseIncomplete;
    response_last_ = proxy_.now_ns();
    record(false);
    return close();
  }
  on_answer_bytes();
}

void ClientSession::on_answer_bytes() {
  const bool head_sent = answer_.state() != MessageRelay::State::Head;
  const std::size_t used = answer_.feed(up_in_, out_);
  up_in_.erase(up_in_.begin(), up_in_.begin() + static_cast<std::ptrdiff_t>(used));
  up_in_stalled_ = used == 0;
  switch (answer_.state()) {
    case MessageRelay::State::Error:
      if (!head_sent)
        return fail_upstream(502, "the upstream's answer is not HTTP: " + answer_.error(),
                             proxy_.stats.upstream_bad_responses);
      ++proxy_.stats.upstream_bad_responses;
      flags_ |= ExchangeFlags::ResponseIncomplete;
      record(false);
      return close();
    case MessageRelay::State::Head:
      return read_upstream();
    case MessageRelay::State::Body:
      return out_.empty() ? read_upstream() : write_client(After::ReadUpstream);
    case MessageRelay::State::Done:
      break;
  }
  const unsigned status = answer_.response().status;
  if (status >= 100 && status < 200 && status != 101) {
    // An interim answer: forward it; the final one follows.
    expect_answer();
    return write_client(After::ReadUpstream);
  }
  write_client(After::Done);
}

void ClientSession::write_client(After after) {
  arm(proxy_.options.response_timeout_ns, Side::Client);
  client_.async_write(asio::buffer(out_), [self = shared_from_this(), after](const error_code& ec, std::size_t n) {
    if (self->phase_ == Phase::Closed) return;
    if (ec) return self->client_left();
    self->proxy_.stats.bytes_to_clients += n;
    self->out_.clear();
    switch (after) {
      case After::Done: return self->exchange_done();
      case After::ReadUpstream: return self->read_upstream();
      case After::ReadClient: return self->read_client();
    }
  });
}

void ClientSession::expect_answer() {
  answer_.reset(std::string_view(request_.request().method) == "HEAD");
  // Closed after this answer when the client or the proxy (draining) asked — the relay adds
  // close when the upstream's answer ends its connection — else kept, which an HTTP/1.0 client
  // must be told (its default is close) whatever the answer's version. exchange_done() does
  // what this says. (The request goes upstream on the proxy's own pooled connection: the relay
  // asks an HTTP/1.0 one to keep it.)
  using Connection = MessageRelay::Connection;
  answer_.connection = close_after_                           ? Connection::Close
                       : request_.request().version == 10 ? Connection::KeepAlive
                                                            : Connection::None;
}

void ClientSession::exchange_done() {
  response_last_ = proxy_.now_ns();
  const bool reusable = answer_.keep_alive() && up_in_.empty() && request_sent_ && !upstream_closed_;
  record(false);
  worker_.release(std::move(upstream_), reusable);
  upstream_.reset();
  up_in_.clear();
  if (close_after_ || draining_ || !answer_.keep_alive()) return close();
  request_.reset();  // answer_ is reset when the next request has gone upstream
  phase_ = Phase::Head;
  request_sent_ = upstream_closed_ = reused_ = retried_ = false;
  resend_.clear();
  ++index_;
  // A pipelined request may already be buffered; else wait for the next one.
  if (!in_.empty()) return on_request_bytes();
  read_client();
}

void ClientSession::fail_upstream(unsigned status, const std::string& why, std::atomic<std::uint64_t>& counter) {
  ++counter;
  if (upstream_) worker_.release(std::move(upstream_), false);
  upstream_.reset();
  respond_locally(status, reason_of(status), "reprise proxy: " + why + "\n");
}

void ClientSession::refuse(unsigned status, const std::string& why) {
  if (status == 431) ++proxy_.stats.header_too_large;
  else if (status == 501) ++proxy_.stats.upgrades_refused;
  else if (status == 400) ++proxy_.stats.bad_requests;
  if (request_.state() != MessageRelay::State::Done) flags_ |= ExchangeFlags::RequestIncomplete;
  respond_locally(status, reason_of(status), "reprise proxy: " + why + "\n");
}

void ClientSession::respond_locally(unsigned status, const std::string& reason, const std::string& body) {
  HttpResponse& r = answer_.response();
  r = HttpResponse{};
  r.status = static_cast<std::uint16_t>(status);
  r.reason = reason;
  r.headers = {{"Content-Type", "text/plain"}, {"Content-Length", std::to_string(body.size())},
               {"Connection", "close"}};
  r.body.assign(body.begin(), body.end());
  r.body_size = body.size();
  response_first_ = proxy_.now_ns();
  out_ = "HTTP/1.1 " + std::to_string(status) + " " + reason + "\r\n";
  for (const auto& [name, value] : r.headers) out_ += name + ": " + value + "\r\n";
  out_ += "\r\n" + body;
  phase_ = Phase::Answer;
  answering_locally_ = true;
  arm(proxy_.options.response_timeout_ns, Side::Client);
  client_.async_write(asio::buffer(out_), [self = shared_from_this()](const error_code& ec, std::size_t n) {
    if (self->phase_ == Phase::Closed) return;
    if (!ec) self->proxy_.stats.bytes_to_clients += n;
    self->response_last_ = self->proxy_.now_ns();
    self->record(true);
    self->close();
  });
}

void ClientSession::client_left() {
  ++proxy_.stats.client_aborts;
  // Once its head is parsed, a request is on its way upstream, which may act on it (a POST):
  // it is recorded, flagged with how far it and its answer got, as packet capture would.
  if (phase_ == Phase::Upstream || phase_ == Phase::Answer) {
    if (request_.state() != MessageRelay::State::Done) flags_ |= ExchangeFlags::RequestIncomplete;
    if (response_first_ == 0) {
      flags_ |= ExchangeFlags::NoResponse;
    } else if (answer_.state() != MessageRelay::State::Done) {
      flags_ |= ExchangeFlags::ResponseIncomplete;
    }
    record(false);
  }
  close();
}

void ClientSession::record(bool locally_answered) {
  if (request_first_ == 0) return;  // nothing of a request arrived
  ++proxy_.stats.exchanges;
  if (proxy_.options.record) {
    HttpExchange x;
    x.connection_id = connection_id_;
    x.connection_index = index_;
    x.client = client_ep_;
    x.server = server_ep_;
    x.request_first_ns = request_first_;
    x.request_last_ns = request_last_ != 0 ? request_last_ : proxy_.now_ns();
    // Without a response its times are 0 (the HttpExchange contract).
    x.response_first_ns = response_first_;
    x.response_last_ns = response_first_ == 0 ? 0 : response_last_ != 0 ? response_last_ : proxy_.now_ns();
    x.request = std::move(request_.request());
    x.response = std::move(answer_.response());
    x.flags = flags_;
    if (request_.body_truncated()) x.flags |= ExchangeFlags::RequestBodyTruncated;
    if (!locally_answered && answer_.body_truncated()) x.flags |= ExchangeFlags::ResponseBodyTruncated;
    proxy_.record(std::move(x));
  }
  worker_.ended(start_);
  request_first_ = request_last_ = response_first_ = response_last_ = 0;
  flags_ = ExchangeFlags::None;
}

void ClientSession::arm(std::int64_t timeout_ns, Side waiting_on) {
  arm_until(coarse_now() + std::chrono::nanoseconds(timeout_ns), waiting_on);
}

void ClientSession::arm_until(std::chrono::steady_clock::time_point deadline, Side waiting_on) {
  deadline_ = deadline;
  deadline_phase_ = phase_;
  deadline_side_ = waiting_on;
  // Most phases move the deadline later: the wait already pending fires early and re-arms
  // (on_deadline), so an exchange costs no timer operation. Only an earlier deadline re-arms now.
  if (!timer_pending_ || deadline_ < timer_at_) arm_at_deadline();
}

void ClientSession::on_deadline() {
  if (phase_ == Phase::Closed || phase_ != deadline_phase_) return;
  if (std::chrono::steady_clock::now() < deadline_) {
    arm_at_deadline();
    return;
  }
  if (phase_ == Phase::Head && request_first_ == 0) return close();  // idle keep-alive connection
  if (deadline_side_ == Side::Client) {
    ++proxy_.stats.client_timeouts;
    if (phase_ == Phase::Head) return refuse(408, "the request did not arrive whole in time");
    // It stopped sending its body or reading its answer: nothing it would read can be said.
    if (phase_ == Phase::Answer) {
      flags_ |= ExchangeFlags::ResponseIncomplete;
      record(answering_locally_);
    }
    return close();
  }
  // Nothing of an answer has gone to the client yet: it can be told.
  if (response_first_ == 0)
    return fail_upstream(504,
                         upstream_ ? "the upstream did not answer in time" : "no connection to the upstream in time",
                         proxy_.stats.upstream_timeouts);
  ++proxy_.stats.upstream_timeouts;
  flags_ |= ExchangeFlags::ResponseIncomplete;
  record(false);
  close();
}

void ClientSession::arm_at_deadline() {
  timer_at_ = deadline_;
  timer_pending_ = true;
  timer_.expires_at(timer_at_);
  timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (ec == asio::error::operation_aborted) return;
    self->timer_pending_ = false;
    self->on_deadline();
  });
}

void ClientSession::drain() {
  draining_ = close_after_ = true;
  answer_.connection = MessageRelay::Connection::Close;  // if its head is still to come
  if (phase_ == Phase::Head && request_first_ == 0 && in_.empty()) close();
}

void ClientSession::cut() {
  if (phase_ == Phase::Closed) return;
  if (request_first_ != 0) ++proxy_.stats.cut_at_drain;
  close();
}

void ClientSession::close() {
  if (phase_ == Phase::Closed) return;
  phase_ = Phase::Closed;
  timer_.cancel();
  client_.close();
  worker_.forget(this);  // a 504 after waiting for a connection leaves its place in the queue
  if (upstream_) worker_.release(std::move(upstream_), false);
  upstream_.reset();
  worker_.ended(start_);
  --proxy_.open_sessions;
  worker_.session_ended(this);
}

}  // namespace reprise::capture
