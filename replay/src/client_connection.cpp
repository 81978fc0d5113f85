#include "client_connection.hpp"

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

void ClientConnection::start(bool head_request, EngineOutcome outcome, Keep keep) {
  busy_ = true;
  outcome_ = std::move(outcome);
  if (reader_) reader_->reset(head_request, keep.body, keep.headers);
  else reader_ = std::make_unique<ResponseReader>(head_request, keep.body, keep.headers);
  reused_ = requests_ > 0;
  ++requests_;
  if (connected_) {
    do_write();
  } else {
    do_connect();
  }
}

void ClientConnection::do_connect() {
  timeout_kind_ = OutcomeError::Connect;
  deadline_ns_ = clock_() + timeouts_.connect.count();
  asio::async_connect(socket_, endpoints_,
                      [self = shared_from_this()](const error_code& ec, const auto&) {
                        self->on_connect(ec);
                      });
}

void ClientConnection::on_connect(const error_code& ec) {
  if (closed_ || !busy_) return;
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
                    [self = shared_from_this()](const error_code& ec, std::size_t n) {
                      self->on_write(ec, n);
                    });
  // Read at once: a server may answer (an error, say) before the body is all written.
  do_read();
}

void ClientConnection::on_write(const error_code& ec, std::size_t n) {
  writing_ = false;
  if (closed_ || !busy_) return;
  outcome_.facts.bytes_sent = n;
  if (ec) {
    // A server that answered and closed before taking the whole body still answered.
    if (reader_->state() == ResponseReader::State::Done) return;
    return finish(OutcomeError::Reset, false);
  }
}

void ClientConnection::do_read() {
  socket_.async_read_some(asio::buffer(buffer_),
                          [self = shared_from_this()](const error_code& ec, std::size_t n) {
                            self->on_read(ec, n);
                          });
}

void ClientConnection::on_read(const error_code& ec, std::size_t n) {
  if (closed_ || !busy_) return;
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
    return finish(OutcomeError::Reset, false);
  }
  do_read();
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
