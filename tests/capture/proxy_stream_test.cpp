// ProxyStream on real loopback TCP connections: reads on the poller's reports (a close riding
// on the last bytes included), whole writes past the socket buffers, Asio's completion rules
// (never inside the call, operation_aborted on close), and a stream that outlives its poller.

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "proxy_stream.hpp"

using namespace reprise;
using namespace std::chrono_literals;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

// A connected pair on 127.0.0.1: `ours` in a ProxyStream, `peer` a plain blocking socket.
struct Connected {
  asio::io_context io;
  std::unique_ptr<net::ReadinessPoller> poller;
  std::optional<capture::ProxyStream> stream;
  tcp::socket peer{io};

  explicit Connected(bool with_poller = true) {
    if (with_poller) {
      auto created = net::ReadinessPoller::create(io);
      REQUIRE(created);
      poller = std::move(*created);
    }
    stream.emplace(io, poller.get());
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    stream->socket().connect(acceptor.local_endpoint());
    acceptor.accept(peer);
  }

  // Runs the io_context until `done` or two seconds have passed.
  template <typename Done>
  void run_until(Done done) {
    const auto end = std::chrono::steady_clock::now() + 2s;
    while (!done() && std::chrono::steady_clock::now() < end) {
      if (io.stopped()) io.restart();  // out of work between operations (no poller to wait on)
      io.run_one_for(10ms);
    }
  }
};

struct Outcome {
  bool called = false;
  error_code ec;
  std::size_t n = 0;
  capture::ProxyStream::Handler handler() {
    return [this](const error_code& e, std::size_t k) {
      called = true;
      ec = e;
      n = k;
    };
  }
};

}  // namespace

TEST_CASE("proxy stream: a read waits for bytes and takes what came, and a close riding on the "
          "last bytes is seen",
          "[capture][proxy][stream]") {
  Connected c;
  REQUIRE(c.stream->watch());
  char buf[64];
  Outcome first;
  c.stream->async_read_some(asio::buffer(buf), first.handler());
  c.io.run_for(50ms);  // nothing was sent: nothing completes
  CHECK_FALSE(first.called);

  // The answer and the close in one segment (corked), both in before the poller looks: one
  // report for both, no later one for the close.
  const int fd = c.peer.native_handle();
  int on = 1, off = 0;
  REQUIRE(::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0);
  REQUIRE(::send(fd, "hello", 5, 0) == 5);
  REQUIRE(::shutdown(fd, SHUT_WR) == 0);
  REQUIRE(::setsockopt(fd, IPPROTO_TCP, TCP_CORK, &off, sizeof off) == 0);
  std::this_thread::sleep_for(20ms);
  c.run_until([&] { return first.called; });
  REQUIRE(first.called);
  CHECK_FALSE(first.ec);
  CHECK(std::string(buf, first.n) == "hello");

  Outcome second;
  c.stream->async_read_some(asio::buffer(buf), second.handler());
  c.run_until([&] { return second.called; });
  REQUIRE(second.called);  // not left waiting for a report that will not come
  CHECK(second.ec == asio::error::eof);
}

TEST_CASE("proxy stream: a write larger than the socket buffers completes whole, after the call",
          "[capture][proxy][stream]") {
  Connected c;
  REQUIRE(c.stream->watch());
  const std::string big(16 << 20, 'x');
  std::size_t received = 0;
  std::thread reader([&] {
    std::vector<char> chunk(1 << 16);
    for (;;) {
      std::this_thread::sleep_for(1ms);  // slower than the writer: the buffers fill
      const ssize_t n = ::recv(c.peer.native_handle(), chunk.data(), chunk.size(), 0);
      if (n <= 0) return;
      received += static_cast<std::size_t>(n);
      if (received == big.size()) return;
    }
  });
  Outcome wrote;
  c.stream->async_write(asio::buffer(big), wrote.handler());
  CHECK_FALSE(wrote.called);  // never inside the call that started it
  const auto end = std::chrono::steady_clock::now() + 20s;
  while (!wrote.called && std::chrono::steady_clock::now() < end) c.io.run_one_for(10ms);
  reader.join();
  REQUIRE(wrote.called);
  CHECK_FALSE(wrote.ec);
  CHECK(wrote.n == big.size());
  CHECK(received == big.size());
}

TEST_CASE("proxy stream: close() ends a read in progress with operation_aborted, from the io_context",
          "[capture][proxy][stream]") {
  Connected c;
  REQUIRE(c.stream->watch());
  char buf[16];
  Outcome read;
  c.stream->async_read_some(asio::buffer(buf), read.handler());
  c.stream->close();
  CHECK_FALSE(read.called);
  CHECK_FALSE(c.stream->is_open());
  c.run_until([&] { return read.called; });
  REQUIRE(read.called);
  CHECK(read.ec == asio::error::operation_aborted);
  // The peer sees the connection end.
  CHECK(::recv(c.peer.native_handle(), buf, sizeof buf, 0) == 0);
}

TEST_CASE("proxy stream: a stream that outlives its poller closes its connection without it",
          "[capture][proxy][stream]") {
  Connected c;
  REQUIRE(c.stream->watch());
  c.poller.reset();
  c.stream.reset();  // under ASan: no use of the poller that is gone
  char buf[16];
  CHECK(::recv(c.peer.native_handle(), buf, sizeof buf, 0) == 0);
}

TEST_CASE("proxy stream: without a poller it stays with Asio and works the same",
          "[capture][proxy][stream]") {
  Connected c(false);
  CHECK_FALSE(c.stream->watch());
  Outcome wrote, read;
  c.stream->async_write(asio::buffer(std::string_view("ping")), wrote.handler());
  c.run_until([&] { return wrote.called; });
  CHECK(wrote.n == 4);
  char buf[16];
  REQUIRE(::recv(c.peer.native_handle(), buf, sizeof buf, 0) == 4);
  REQUIRE(::send(c.peer.native_handle(), "pong", 4, 0) == 4);
  c.stream->async_read_some(asio::buffer(buf), read.handler());
  c.run_until([&] { return read.called; });
  CHECK(std::string(buf, read.n) == "pong");
}
