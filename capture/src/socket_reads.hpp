#pragma once
// SocketReads: the read side of the proxy's plain TCP sockets, read the way nginx reads them.
// Private to capture/.
//
// asio's async_read_some tries a recv at once and waits only if it finds nothing. In a proxy it
// almost always finds nothing: a read starts just after a request went upstream (its answer
// cannot be there yet) or an answer went to the client (its next request neither). That is a
// system call per read that returns EAGAIN, two per proxied request. SocketReads reads at once
// only when the socket may hold bytes (a wait on it has fired since it was last emptied, or the
// last read filled the buffer) and otherwise waits for epoll first.
//
// Epoll is edge-triggered: it reports bytes that arrive while a wait is pending, and only those.
// So a wait is armed the moment a read empties the socket (returns fewer bytes than asked, or
// EAGAIN) and stays pending while the session does other things; when it fires with no read
// wanted it only marks the socket readable. No arrival is ever missed.

#include <cstddef>
#include <functional>
#include <memory>

#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace reprise::capture {

class SocketReads {
 public:
  using Handler = std::function<void(const boost::system::error_code&, std::size_t)>;

  explicit SocketReads(boost::asio::ip::tcp::socket& socket);
  ~SocketReads();
  SocketReads(const SocketReads&) = delete;
  SocketReads& operator=(const SocketReads&) = delete;

  // Reads some bytes into `buffer`; `handler(ec, n)` runs from the socket's io_context, never
  // inside this call. One read at a time. ec is eof at the end of the stream, and
  // operation_aborted when the socket was closed (forget()) before the read could complete.
  void read(boost::asio::mutable_buffer buffer, Handler handler);

  // The socket was closed (and may be opened again for a new connection): a pending read ends
  // with operation_aborted, and the next connection starts as "may hold bytes".
  void forget();

 private:
  struct State;
  static void attempt(const std::shared_ptr<State>& state, boost::asio::mutable_buffer buffer, Handler handler);
  static void arm(const std::shared_ptr<State>& state);

  boost::asio::ip::tcp::socket& socket_;
  std::shared_ptr<State> state_;  // shared with the pending wait and posted reads
};

}  // namespace reprise::capture
