#include "proxy_stream.hpp"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

namespace reprise::capture {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr std::uint32_t kPeerClosed = EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr std::uint32_t kReadable = EPOLLIN | kPeerClosed;
constexpr std::uint32_t kWritable = EPOLLOUT | EPOLLHUP | EPOLLERR;

error_code last_error() { return error_code(errno, boost::system::system_category()); }

// The handler, leaving an empty one behind (a moved-from std::function is unspecified).
ProxyStream::Handler take(ProxyStream::Handler& h) { return std::exchange(h, nullptr); }

}  // namespace

ProxyStream::ProxyStream(asio::io_context& io, net::ReadinessPoller* poller)
    : io_(io), socket_(io), poller_(poller) {
  if (poller != nullptr) poller_alive_ = poller->lifetime();
}

ProxyStream::~ProxyStream() {
  // Handlers still held are dropped: whoever they would call is going too.
  if (fd_ < 0) return;
  if (!poller_alive_.expired()) poller_->remove(handle_);
  ::close(fd_);
}

void ProxyStream::use_tls(asio::ssl::context& ctx) {
  tls_ = std::make_unique<asio::ssl::stream<asio::ip::tcp::socket&>>(socket_, ctx);
}

bool ProxyStream::watch() {
  if (tls_ || fd_ >= 0 || !socket_.is_open() || poller_alive_.expired()) return false;
  const auto adopted = poller_->adopt(socket_, *this);
  if (!adopted) return false;
  fd_ = adopted->fd;
  handle_ = adopted->handle;
  // Bytes that came before are reported too: epoll reports what is ready when a descriptor is
  // added. So the first read waits for that report like any other.
  readable_ = false;
  return true;
}

void ProxyStream::async_read_some(asio::mutable_buffer buffer, Handler handler) {
  if (fd_ < 0) {
    if (tls_) return tls_->async_read_some(buffer, std::move(handler));
    return socket_.async_read_some(buffer, std::move(handler));
  }
  read_handler_ = std::move(handler);
  read_buffer_ = buffer;
  Completion done;
  if (readable_ && read_now(done)) post(std::move(done));  // else on the poller's next report
}

void ProxyStream::async_write(asio::const_buffer buffer, Handler handler) {
  if (fd_ < 0) {
    if (tls_) return asio::async_write(*tls_, buffer, std::move(handler));
    return asio::async_write(socket_, buffer, std::move(handler));
  }
  write_handler_ = std::move(handler);
  write_buffer_ = buffer;
  written_ = 0;
  Completion done;
  if (write_now(done)) post(std::move(done));
}

bool ProxyStream::read_now(Completion& done) {
  if (read_buffer_.size() == 0) {
    done = {take(read_handler_), {}, 0};
    return true;
  }
  for (;;) {
    const ssize_t n = ::recv(fd_, read_buffer_.data(), read_buffer_.size(), 0);
    if (n > 0) {
      // A read that did not fill the buffer took all there was: the next waits for a report,
      // unless the peer closed (then it goes on to the end of the stream).
      if (static_cast<std::size_t>(n) < read_buffer_.size() && !peer_closed_) readable_ = false;
      done = {take(read_handler_), {}, static_cast<std::size_t>(n)};
      return true;
    }
    if (n == 0) {
      done = {take(read_handler_), asio::error::eof, 0};
      return true;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      readable_ = false;
      return false;
    }
    done = {take(read_handler_), last_error(), 0};
    return true;
  }
}

bool ProxyStream::write_now(Completion& done) {
  const int e = net::send_until_full(fd_, static_cast<const char*>(write_buffer_.data()), write_buffer_.size(),
                                     written_);
  if (e != 0) {
    error_code failed(e, boost::system::system_category());
    if (e == EAGAIN) {
      // The socket's buffer is full (a large answer to a slow client): go on when it has room.
      failed = awaiting_room_ ? error_code() : set_output_interest(true);
      if (!failed) return false;
    }
    done = {take(write_handler_), failed, written_};
    return true;
  }
  // Output interest off again; should epoll refuse, it only reports room no one waits for.
  if (awaiting_room_) (void)set_output_interest(false);
  done = {take(write_handler_), {}, written_};
  return true;
}

error_code ProxyStream::set_output_interest(bool on) {
  if (poller_alive_.expired()) return asio::error::operation_aborted;
  if (auto set = poller_->want_output(handle_, on); !set)
    return error_code(set.error().code.value(), boost::system::system_category());
  awaiting_room_ = on;
  return {};
}

void ProxyStream::on_ready(std::uint32_t epoll_events) {
  if ((epoll_events & kReadable) != 0) readable_ = true;
  if ((epoll_events & kPeerClosed) != 0) peer_closed_ = true;
  Completion wrote, read;
  const bool write_done = write_handler_ && (epoll_events & kWritable) != 0 && write_now(wrote);
  const bool read_done = read_handler_ && readable_ && read_now(read);
  // A handler may close or destroy this stream: nothing of it is used once they run.
  if (write_done) wrote.handler(wrote.ec, wrote.n);
  if (read_done) read.handler(read.ec, read.n);
}

void ProxyStream::post(Completion done) {
  asio::post(io_, [done = std::move(done)] { done.handler(done.ec, done.n); });
}

void ProxyStream::close() {
  if (fd_ < 0) {
    error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);  // Asio ends what is in progress as operation_aborted
    return;
  }
  if (!poller_alive_.expired()) poller_->remove(handle_);
  ::shutdown(fd_, SHUT_RDWR);
  ::close(fd_);
  fd_ = -1;
  if (read_handler_) post({take(read_handler_), asio::error::operation_aborted, 0});
  if (write_handler_) post({take(write_handler_), asio::error::operation_aborted, written_});
}

}  // namespace reprise::capture
