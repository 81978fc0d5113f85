#include "client_connection.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include <boost/asio/connect.hpp>
#include <boost/asio/post.hpp>

namespace reprise::replay {

namespace asio = boost::asio;
using boost::system::error_code;

ClientConnection::ClientConnection(asio::io_context& io, ReadinessPoller& poller,
                                   const Endpoints& endpoints, Timeouts timeouts, Clock clock,
                                   DoneHandler on_done)
    : socket_(io),
      poller_(poller),
      endpoints_(endpoints),
      timeouts_(timeouts),
      clock_(std::move(clock)),
      on_done_(std::move(on_done)),
      buffer_(16 * 1024) {}

ClientConnection::~ClientConnection() { close_socket(); }

void ClientConnection::start(Request request, EngineOutcome outcome, Keep keep) {
  busy_ = true;
  ++serial_;
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
  error_code ignored;
  socket_.set_option(asio::ip::tcp::no_delay(true), ignored);
  const auto adopted = poller_.adopt(socket_, *this);
  if (!adopted) return finish(OutcomeError::Connect, false);  // closes socket_
  fd_ = adopted->fd;
  watch_ = adopted->handle;
  connected_ = true;
  do_write();
}

void ClientConnection::close_socket() {
  if (fd_ < 0) {
    error_code ignored;
    socket_.close(ignored);  // a connect in progress ends as operation_aborted
    return;
  }
  poller_.remove(watch_);
  ::close(fd_);
  fd_ = -1;
}

void ClientConnection::do_write() {
  timeout_kind_ = OutcomeError::Timeout;
  outcome_.facts.sent_ns = clock_();
  deadline_ns_ = outcome_.facts.sent_ns + timeouts_.request.count();
  outcome_.connection_reused = reused_;
  writing_ = true;
  written_ = 0;
  write_more();
  // The answer is read when the poller reports bytes: a server may answer (an error, say)
  // before the body is all written.
}

void ClientConnection::write_more() {
  const std::string& wire = *outcome_.wire;  // the outcome holds the bytes sent
  const int e = net::send_until_full(fd_, wire.data(), wire.size(), written_);
  outcome_.facts.bytes_sent = written_;
  if (e == EAGAIN) {
    // The socket's buffer is full (a large body): go on when it has room.
    if (awaiting_room_ || poller_.want_output(watch_, true)) {
      awaiting_room_ = true;
      return;
    }
  }
  if (e != 0) return write_failed();
  writing_ = false;
  if (awaiting_room_) {
    awaiting_room_ = false;
    if (!poller_.want_output(watch_, false)) write_failed();
  }
}

void ClientConnection::write_failed() {
  writing_ = false;
  // Handled from the io_context, never inside start(): the engine does not see a request end
  // within the call that began it.
  asio::post(socket_.get_executor(), [self = shared_from_this(), serial = serial_, attempt = attempt_] {
    const auto current = [&] {
      return serial == self->serial_ && attempt == self->attempt_ && self->busy_ && !self->closed_;
    };
    if (!current()) return;
    // A server that answered and closed before taking the whole body still answered: what it
    // sent is read before the connection is given up.
    self->read_available(true);
    if (current()) self->broken();
  });
}

void ClientConnection::on_ready(std::uint32_t epoll_events) {
  if (closed_ || fd_ < 0 || !busy_) return;  // an idle one's bytes or close: still_open() looks
  const auto self = shared_from_this();  // its answer may let the engine drop it
  // The answer first: one that came before the request was all written ends the write.
  constexpr std::uint32_t kEnd = EPOLLRDHUP | EPOLLHUP | EPOLLERR;
  if ((epoll_events & (EPOLLIN | kEnd)) != 0) read_available((epoll_events & kEnd) != 0);
  if ((epoll_events & EPOLLOUT) != 0 && writing_ && busy_ && !closed_) write_more();
}

void ClientConnection::read_available(bool peer_closed) {
  // Edge-triggered: read until this answer is complete or nothing is left. A short read took
  // all the bytes there were, and bytes arriving later are a new edge, so no read is made only
  // to find EAGAIN; but a close that came with the bytes is no new edge, so when the wake-up
  // said the peer closed, reading goes on to the end of the stream. The answer's completion
  // may start the next request on this connection at once: its answer is the next edge's.
  const std::uint64_t serial = serial_;
  while (serial == serial_ && busy_ && !closed_ && fd_ >= 0) {
    const ssize_t n = ::recv(fd_, buffer_.data(), buffer_.size(), 0);
    if (n > 0) {
      const bool drained = static_cast<std::size_t>(n) < buffer_.size();
      on_read(static_cast<std::size_t>(n));
      if (drained && !peer_closed) return;
      continue;
    }
    if (n == 0) return on_read_end(true);
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return;
    return on_read_end(false);
  }
}

void ClientConnection::on_read(std::size_t n) {
  // An answer that arrives in one read has its first and last byte at the same instant: one
  // clock reading serves as both.
  std::int64_t arrived = 0;
  if (outcome_.facts.first_byte_ns == 0) outcome_.facts.first_byte_ns = arrived = clock_();
  const std::size_t used = reader_->feed({buffer_.data(), n});
  // Answered before the request was all written (an early 401 or 413): the connection is not
  // reused, and closing it stops the write. Reusing it would put the next request's bytes
  // behind the rest of this one.
  if (reader_->state() == ResponseReader::State::Done)
    return finish(OutcomeError::None, reader_->keep_alive() && used == n && !writing_, arrived);
  if (reader_->state() == ResponseReader::State::Error) return finish(OutcomeError::Protocol, false);
}

void ClientConnection::on_read_end(bool eof) {
  if (eof) {
    reader_->eof();
    if (reader_->state() == ResponseReader::State::Done) return finish(OutcomeError::None, false);
  }
  broken();
}

void ClientConnection::broken() {
  const bool stale = reused_ && reader_->bytes_received() == 0;
  if (!stale || !request_.idempotent || retried_) return finish(OutcomeError::Reset, false);
  // A connect of the first attempt still pending ends with operation_aborted, for an old
  // attempt; the reader may have seen its end of stream.
  ++attempt_;
  reset_reader();
  retried_ = true;
  reused_ = false;
  requests_ = 1;
  connected_ = false;
  writing_ = false;
  awaiting_room_ = false;
  close_socket();
  do_connect();
}

bool ClientConnection::still_open(std::int64_t now_ns) {
  constexpr std::int64_t kCheckAfterNs = 50'000'000;
  if (closed_ || fd_ < 0) return false;
  if (now_ns - idle_since_ < kCheckAfterNs) return true;
  // Nothing may arrive on an idle connection: end of stream is the server's close, and bytes
  // (a 408, say) are an answer to no request. Either way it is not reused.
  char byte = 0;
  const ssize_t got = ::recv(fd_, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
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
    close_socket();
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
  close_socket();
}

}  // namespace reprise::replay
