#pragma once
// ProxyStream: one connection of the recording proxy (a client's or one to the upstream), plain
// TCP or TLS over TCP, with the same calls either way. Private to capture/.
//
// A plain-TCP stream, once connected, leaves Asio's reactor for its worker's ReadinessPoller
// (watch()): a write goes out with send() at once, and a read calls recv() only when epoll has
// reported bytes since the last read that drained the socket. Through Asio (Boost 1.74) every
// read is first tried at once, and the proxy reads right after it wrote, when nothing can be
// there yet: 3.5 recv per proxied request where 2 are needed (net/readiness_poller.hpp). TLS
// streams stay with Asio (OpenSSL reads and writes on its own schedule).
//
// Contract, as Asio's: at most one read and one write in progress; a handler is never called
// inside the call that started its operation; close() ends operations in progress with
// operation_aborted; a read returns some bytes (or eof, or an error), a write all of them (or
// an error). One thread (the worker's).

#include <cstdint>
#include <functional>
#include <memory>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>

#include "reprise/net/readiness_poller.hpp"

namespace reprise::capture {

class ProxyStream final : private net::ReadinessPoller::Watcher {
 public:
  using Handler = std::function<void(const boost::system::error_code&, std::size_t)>;

  // `poller` may be null (or go before the stream): the stream then stays with Asio.
  ProxyStream(boost::asio::io_context& io, net::ReadinessPoller* poller);
  ~ProxyStream();
  ProxyStream(const ProxyStream&) = delete;
  ProxyStream& operator=(const ProxyStream&) = delete;

  // Until watch(): to connect, accept into, set options on, read endpoints from.
  boost::asio::ip::tcp::socket& socket() { return socket_; }
  void use_tls(boost::asio::ssl::context& ctx);
  boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>* tls() { return tls_.get(); }

  // A connected plain-TCP stream goes over to the poller; call it with no operation in
  // progress. False when it stays with Asio (TLS, no poller, or epoll refused the descriptor),
  // which works the same at one wasted read per exchange.
  bool watch();

  // Not closed by close() (the peer may have closed; a read then says eof).
  bool is_open() const { return fd_ >= 0 || socket_.is_open(); }
  void async_read_some(boost::asio::mutable_buffer buffer, Handler handler);
  void async_write(boost::asio::const_buffer buffer, Handler handler);
  void close();

 private:
  // One finished operation, its handler called after on_ready() is done with the stream.
  struct Completion {
    Handler handler;
    boost::system::error_code ec;
    std::size_t n = 0;
  };

  void on_ready(std::uint32_t epoll_events) override;
  // Tries the pending read or write; true when it finished (its result in `done`).
  bool read_now(Completion& done);
  bool write_now(Completion& done);
  // Output interest on while a write waits for room, off after; epoll's error if it refused.
  boost::system::error_code set_output_interest(bool on);
  // Calls `done`'s handler from the io_context (an operation that finished at its start).
  void post(Completion done);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::socket socket_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls_;

  // Watched: the descriptor, taken from socket_, and the poller's handle for it. The weak
  // token tells whether the poller still exists (a worker's poller goes when it has drained).
  net::ReadinessPoller* poller_;
  std::weak_ptr<net::ReadinessPoller*> poller_alive_;
  int fd_ = -1;
  std::uint32_t handle_ = 0;
  // What epoll has said since the last read that drained the socket: bytes (or an error) may be
  // there; the peer closed, so reads go on to the end whatever their size (a close that comes
  // in the same segment as the last bytes is no new edge).
  bool readable_ = false;
  bool peer_closed_ = false;
  bool awaiting_room_ = false;  // output interest is on

  Handler read_handler_;
  boost::asio::mutable_buffer read_buffer_;
  Handler write_handler_;
  boost::asio::const_buffer write_buffer_;
  std::size_t written_ = 0;
};

}  // namespace reprise::capture
