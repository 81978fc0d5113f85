#include "socket_reads.hpp"

#include <utility>

#include <boost/asio/post.hpp>

namespace reprise::capture {

namespace asio = boost::asio;
using boost::system::error_code;

struct SocketReads::State {
  explicit State(asio::ip::tcp::socket& s) : socket(&s) {}
  asio::ip::tcp::socket* socket;  // null once forgotten: pending handlers must not touch it
  bool readable = true;           // a recv may find bytes, the end of the stream or an error
  bool waiting = false;           // an async_wait is pending on the socket
  bool non_blocking = false;      // the socket's recv returns EAGAIN instead of blocking
  asio::mutable_buffer want_buffer;
  Handler want;                   // a read waiting for the socket to become readable
};

SocketReads::SocketReads(asio::ip::tcp::socket& socket)
    : socket_(socket), state_(std::make_shared<State>(socket)) {}

SocketReads::~SocketReads() { state_->socket = nullptr; }

void SocketReads::forget() {
  state_->socket = nullptr;
  if (state_->want) {
    Handler h = std::move(state_->want);
    asio::post(socket_.get_executor(), [h = std::move(h)] { h(asio::error::operation_aborted, 0); });
  }
  state_ = std::make_shared<State>(socket_);
}

void SocketReads::read(asio::mutable_buffer buffer, Handler handler) {
  const std::shared_ptr<State>& st = state_;
  if (st->readable) {
    asio::post(socket_.get_executor(), [st, buffer, h = std::move(handler)]() mutable {
      attempt(st, buffer, std::move(h));
    });
    return;
  }
  st->want_buffer = buffer;
  st->want = std::move(handler);
  if (!st->waiting) arm(st);
}

void SocketReads::attempt(const std::shared_ptr<State>& st, asio::mutable_buffer buffer, Handler handler) {
  if (!st->socket) return handler(asio::error::operation_aborted, 0);
  error_code ec;
  if (!st->non_blocking) {
    st->socket->non_blocking(true, ec);
    if (ec) return handler(ec, 0);
    st->non_blocking = true;
  }
  const std::size_t n = st->socket->read_some(buffer, ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) {
    st->readable = false;
    st->want_buffer = buffer;
    st->want = std::move(handler);
    if (!st->waiting) arm(st);
    return;
  }
  // Fewer bytes than asked: the socket is empty now, and a wait reports what comes next. A full
  // buffer, the end of the stream or an error leave it readable: the next read reports them.
  if (!ec && n < buffer.size()) {
    st->readable = false;
    if (!st->waiting) arm(st);
  }
  handler(ec, n);
}

void SocketReads::arm(const std::shared_ptr<State>& st) {
  st->waiting = true;
  st->socket->async_wait(asio::ip::tcp::socket::wait_read, [st](const error_code& ec) {
    st->waiting = false;
    if (!st->socket) return;  // forgotten: forget() ended the read that was waiting
    st->readable = true;
    if (!st->want) return;
    Handler h = std::move(st->want);
    st->want = nullptr;
    if (ec) return h(ec, 0);
    attempt(st, st->want_buffer, std::move(h));
  });
}

}  // namespace reprise::capture
