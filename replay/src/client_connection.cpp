#include "client_connection.hpp"

#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

namespace reprise::replay {

namespace asio = boost::asio;
using boost::system::error_code;

ClientConnection::ClientConnection(asio::io_context& io, const Endpoints& endpoints,
                                   Timeouts timeouts, Clock clock, DoneHandler on_done)
    : socket_(io),
      endpoints_(endpoints),
      timeouts_(timeouts),
      clock_(std::move(clock)),
      on_done_(std::move(on_done)),
      buffer_(16 * 1024) {}

void ClientConnection::start(Request request, EngineOutcome outcome, Keep keep) {
  busy_ = true;
  outcome_ = std::move(outcome);
  request_ = request;
  keep_ = keep;
  retried_ = false;
  reset_reader();
  reused_ = requests_ > 0;
  ++requests_;
  if (connected_) {
    do_write();
  } else {
    do_connect();
  }
}

void ClientConnection::reset_reader() {
  if (reader_) reader_->reset(request_.head, keep_.body, keep_.headers);
  else reader_ = std::make_unique<ResponseReader>(request_.head, keep_.body, keep_.headers);
}

void ClientConnection::do_connect() {
  timeout_kind_ = OutcomeError::Connect;
  deadline_ns_ = clock_() + timeouts_.connect.count();
  asio::async_connect(socket_, endpoints_,
                      [self = shared_from_this(), a = attempt_](const error_code& ec, const auto&) {
                        self->on_connect(a, ec);
                      });
}

void ClientConnection::on_connect(std::uint32_t attempt, const error_code& ec) {
  if (closed_ || !busy_ || attempt != attempt_) return;
  if (ec) return finish(OutcomeError::Connect, false);
  connected_ = true;
  error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  do_write();
}

void ClientConnection::do_write() {
  timeout_kind_ = OutcomeError::Timeout;
  outcome_.facts.sent_ns = clock_();
  deadline_ns_ = outcome_.facts.sent_ns + timeouts_.request.count();
  outcome_.connection_reused = reused_;
  writing_ = true;
  asio::async_write(socket_, asio::buffer(*outcome_.wire),  // the outcome holds the bytes sent
                    [self = shared_from_this(), a = attempt_](const error_code& ec, std::size_t n) {
                      self->on_write(a, ec, n);
                    });
  // Read at once: a server may answer (an error, say) before the body is all written.
  do_read();
}

void ClientConnection::on_write(std::uint32_t attempt, const error_code& ec, std::size_t n) {
  if (attempt != attempt_) return;
  writing_ = false;
  if (closed_ || !busy_) return;
  outcome_.facts.bytes_sent = n;
  if (ec) {
    // A server that answered and closed before taking the whole body still answered.
    if (reader_->state() == ResponseReader::State::Done) return;
    return broken();
  }
}

void ClientConnection::do_read() {
  socket_.async_read_some(asio::buffer(buffer_),
                          [self = shared_from_this(), a = attempt_](const error_code& ec, std::size_t n) {
                            self->on_read(a, ec, n);
                          });
}

void ClientConnection::on_read(std::uint32_t attempt, const error_code& ec, std::size_t n) {
  if (closed_ || !busy_ || attempt != attempt_) return;
  if (n > 0) {
    // An answer that arrives in one read has its first and last byte at the same instant: one
    // clock reading serves as both.
    std::int64_t arrived = 0;
    if (outcome_.facts.first_byte_ns == 0) outcome_.facts.first_byte_ns = arrived = clock_();
    const std::size_t used = reader_->feed({buffer_.data(), n});
    // Answered before the request was all written (an early 401 or 413): the connection is not
    // reused, and closing it stops the write. Reusing it would put the next request's bytes
    // behind the rest of this one, and the write would go on reading bytes the outcome now owns.
    if (reader_->state() == ResponseReader::State::Done)
      return finish(OutcomeError::None, reader_->keep_alive() && used == n && !writing_, arrived);
    if (reader_->state() == ResponseReader::State::Error)
      return finish(OutcomeError::Protocol, false);
  }
  if (ec) {
    if (ec == asio::error::eof) {
      reader_->eof();
      if (reader_->state() == ResponseReader::State::Done)
        return finish(OutcomeError::None, false);
    }
    return broken();
  }
  do_read();
}

void ClientConnection::broken() {
  const bool stale = reused_ && reader_->bytes_received() == 0;
  if (!stale || !request_.idempotent || retried_) return finish(OutcomeError::Reset, false);
  // The first attempt's pending operations end with operation_aborted, for an old attempt; the
  // reader may have seen its end of stream.
  ++attempt_;
  reset_reader();
  retried_ = true;
  reused_ = false;
  requests_ = 1;
  connected_ = false;
  writing_ = false;
  error_code ignored;
  socket_.close(ignored);
  do_connect();
}

bool ClientConnection::still_open(std::int64_t now_ns) {
  constexpr std::int64_t kCheckAfterNs = 50'000'000;
  if (closed_) return false;
  if (now_ns - idle_since_ < kCheckAfterNs) return true;
  // Nothing may arrive on an idle connection: end of stream is the server's close, and bytes
  // (a 408, say) are an answer to no request. Either way it is not reused.
  char byte = 0;
  const ssize_t got = ::recv(socket_.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

void ClientConnection::expire(std::int64_t now_ns) {
  if (closed_ || !busy_ || now_ns < deadline_ns_) return;
  finish(timeout_kind_, false);
}

void ClientConnection::finish(OutcomeError error, bool reusable, std::int64_t now_ns) {
  busy_ = false;
  deadline_ns_ = INT64_MAX;
  EngineOutcome out = std::move(outcome_);
  out.facts.done_ns = now_ns != 0 ? now_ns : clock_();
  out.facts.error = error;
  out.facts.bytes_received = reader_ ? reader_->bytes_received() : 0;
  if (error == OutcomeError::None) {
    out.facts.status = reader_->status();
    out.response_digest = reader_->body_digest();
    out.body = std::move(reader_->kept_body());
    out.headers = std::move(reader_->kept_headers());
  }
  if (error == OutcomeError::Connect) out.facts.sent_ns = 0;
  out.retried = retried_;
  if (!reusable) {
    closed_ = true;
    error_code ignored;
    socket_.close(ignored);
  }
  idle_since_ = out.facts.done_ns;
  on_done_(*this, std::move(out), reusable);
}

void ClientConnection::close(OutcomeError abort_error) {
  if (closed_) return;
  if (busy_) {
    finish(abort_error, false);
    return;
  }
  closed_ = true;
  error_code ignored;
  socket_.close(ignored);
}

}  // namespace reprise::replay
