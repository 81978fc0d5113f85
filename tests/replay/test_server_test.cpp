// Self-test of the in-process test server (tests/support/test_server.hpp) that the replay
// integration tests stand on: a raw socket client checks the bytes on the wire, curl checks that
// a real client gets along with it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <set>
#include <stdexcept>
#include <thread>

#include "support/process.hpp"
#include "support/test_server.hpp"

using namespace reprise::test;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// A blocking TCP client on 127.0.0.1 whose reads have a deadline.
class RawClient {
 public:
  enum class End { eof, reset, timeout, refused, error };

  explicit RawClient(int port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      connect_errno_ = errno;
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connect_errno_ == 0; }
  int connect_errno() const { return connect_errno_; }

  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const auto n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;  // the server hung up; the read reports how
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  // Reads until the server closes the connection or `timeout` passes; the bytes go to `out`.
  End read_to_end(std::string& out, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = Clock::now() + timeout;
    char buf[16384];
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return End::timeout;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) == 0) return End::timeout;
      const auto n = ::recv(fd_, buf, sizeof buf, 0);
      if (n == 0) return End::eof;
      if (n < 0) return errno == ECONNRESET ? End::reset : End::error;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_ = -1;
  int connect_errno_ = 0;
};

struct Exchange {
  RawClient::End end = RawClient::End::error;
  std::string bytes;
};

// Connects, sends `request` and reads whatever comes back until the connection ends.
Exchange exchange(int port, std::string_view request, std::chrono::milliseconds timeout = 5s) {
  Exchange e;
  RawClient c(port);
  if (!c.connected()) {
    e.end = c.connect_errno() == ECONNREFUSED ? RawClient::End::refused : RawClient::End::error;
    return e;
  }
  c.send(request);
  e.end = c.read_to_end(e.bytes, timeout);
  return e;
}

std::string get(std::string_view target, std::string_view extra_headers = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_headers) +
         "Connection: close\r\n\r\n";
}

std::size_t occurrences(const std::string& haystack, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) ++n;
  return n;
}

bool ends_with(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = Clock::now() + timeout;
  while (!pred()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

}  // namespace

TEST_CASE("test server: default answer and the request log", "[replay][test_server]") {
  TestServer server;
  REQUIRE(server.port() > 0);
  CHECK(server.url("/x") == "http://127.0.0.1:" + std::to_string(server.port()) + "/x");

  const auto before = Clock::now();
  const auto e = exchange(server.port(), get("/hello?a=1", "X-Test: one\r\nX-Test: two\r\n"));
  CHECK(e.end == RawClient::End::eof);
  CHECK(e.bytes.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(e.bytes.find("Content-Type: text/plain\r\n") != std::string::npos);
  CHECK(ends_with(e.bytes, "\r\n\r\nok /hello?a=1"));

  const auto log = server.requests();
  REQUIRE(log.size() == 1);
  const auto& r = log[0];
  CHECK(r.method == "GET");
  CHECK(r.target == "/hello?a=1");
  CHECK(r.version == 11);
  CHECK(r.body.empty());
  CHECK_FALSE(r.chunked);
  CHECK(r.connection == 1);
  CHECK(r.sequence == 1);
  CHECK(r.arrived >= before);
  CHECK(r.arrived <= Clock::now());
  CHECK(r.header("x-test") == "one");  // the first of two, case-insensitive
  CHECK_FALSE(r.header("X-Absent").has_value());
  REQUIRE(r.headers.size() == 4);
  CHECK(r.headers[1] == Header{"X-Test", "one"});
  CHECK(r.headers[2] == Header{"X-Test", "two"});

  CHECK(server.request_count() == 1);
  CHECK(server.request_count("/hello?a=1") == 1);
  CHECK(server.request_count("/hello") == 0);
  CHECK(server.connections_accepted() == 1);
  CHECK(server.error_count() == 0);
}

TEST_CASE("test server: keep-alive, Content-Length and chunked bodies", "[replay][test_server]") {
  TestServer server;
  // Pipelined on one connection; the second body is chunked, the third request closes.
  const auto e = exchange(server.port(),
                          "POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello"
                          "POST /b HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                          "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
                          "GET /c HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  CHECK(e.end == RawClient::End::eof);
  CHECK(occurrences(e.bytes, "HTTP/1.1 200 OK\r\n") == 3);
  CHECK(occurrences(e.bytes, "ok /") == 3);

  const auto log = server.requests();
  REQUIRE(log.size() == 3);
  CHECK(log[0].body == "hello");
  CHECK_FALSE(log[0].chunked);
  CHECK(log[1].body == "hello world");
  CHECK(log[1].chunked);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(log[i].connection == 1);
    CHECK(log[i].sequence == i + 1);
  }
  CHECK(server.connections_accepted() == 1);

  SECTION("HTTP/1.0 is answered in 1.0; keep-alive only when asked") {
    const auto old = exchange(server.port(),
                              "GET /k HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
                              "GET /old HTTP/1.0\r\n\r\n");
    CHECK(old.end == RawClient::End::eof);
    CHECK(occurrences(old.bytes, "HTTP/1.0 200 OK\r\n") == 2);
    CHECK(ends_with(old.bytes, "ok /old"));
    const auto log2 = server.requests();
    REQUIRE(log2.size() == 5);
    CHECK(log2[4].version == 10);
    CHECK(log2[4].connection == log2[3].connection);
  }
}

TEST_CASE("test server: rules, handler, status, headers and JSON", "[replay][test_server]") {
  TestServer server;
  server.set_handler([](const ReceivedRequest& r) {
    if (r.target == "/missing") return Behaviour::respond(404, "nope");
    if (r.target == "/throw") throw std::runtime_error("handler broke");
    return Behaviour::ok();
  });
  server.on("/json", Behaviour::json(R"({"a":1})", 201)
                         .with_header("Set-Cookie", "a=1")
                         .with_header("Set-Cookie", "b=2"));
  server.on("/ruled", Behaviour::respond(500, "first"));
  server.on("/ruled", Behaviour::respond(503, "latest"));

  auto e = exchange(server.port(), get("/json"));
  CHECK(e.bytes.rfind("HTTP/1.1 201 Created\r\n", 0) == 0);
  CHECK(e.bytes.find("Content-Type: application/json\r\n") != std::string::npos);
  CHECK(e.bytes.find("Set-Cookie: a=1\r\nSet-Cookie: b=2\r\n") != std::string::npos);
  CHECK(ends_with(e.bytes, "\r\n\r\n{\"a\":1}"));

  e = exchange(server.port(), get("/missing"));
  CHECK(e.bytes.rfind("HTTP/1.1 404 Not Found\r\n", 0) == 0);
  CHECK(ends_with(e.bytes, "nope"));

  e = exchange(server.port(), get("/ruled"));
  CHECK(e.bytes.rfind("HTTP/1.1 503 ", 0) == 0);

  e = exchange(server.port(), get("/throw"));
  CHECK(e.bytes.rfind("HTTP/1.1 500 ", 0) == 0);
  CHECK(ends_with(e.bytes, "handler broke"));

  e = exchange(server.port(), "HEAD /head HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  CHECK(e.bytes.find("Content-Length: 8\r\n") != std::string::npos);  // "ok /head"
  CHECK(ends_with(e.bytes, "\r\n\r\n"));

  auto chunked = Behaviour::respond(200, "abc");
  chunked.chunked = true;
  server.on("/chunked", chunked);
  e = exchange(server.port(), get("/chunked"));
  CHECK(e.bytes.find("Transfer-Encoding: chunked\r\n") != std::string::npos);
  CHECK(ends_with(e.bytes, "\r\n\r\n3\r\nabc\r\n0\r\n\r\n"));

  // The server closes although the client wanted to keep the connection: no timeout here.
  auto closing = Behaviour::ok();
  closing.keep_alive = false;
  server.on("/bye", closing);
  e = exchange(server.port(), "GET /bye HTTP/1.1\r\nHost: t\r\n\r\n");
  CHECK(e.end == RawClient::End::eof);
  CHECK(e.bytes.find("Connection: close\r\n") != std::string::npos);

  server.clear_rules();
  server.set_handler({});
  e = exchange(server.port(), get("/json"));
  CHECK(ends_with(e.bytes, "ok /json"));
  CHECK(server.error_count() == 0);
}

TEST_CASE("test server: delays run on a timer, so slow requests overlap on one thread",
          "[replay][test_server]") {
  TestServerOptions options;
  options.threads = 1;
  TestServer server(options);
  constexpr auto delay = 400ms;
  server.set_behaviour(Behaviour::ok().after(delay));

  const auto start = Clock::now();
  Exchange a, b;
  std::thread ta([&] { a = exchange(server.port(), get("/slow/a")); });
  std::thread tb([&] { b = exchange(server.port(), get("/slow/b")); });
  ta.join();
  tb.join();
  const auto elapsed = Clock::now() - start;

  CHECK(a.bytes.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(b.bytes.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(elapsed >= delay);
  CHECK(elapsed < delay * 2 - 50ms);  // one delay, not two
  CHECK(server.max_in_flight() == 2);
  CHECK(server.max_open_connections() == 2);
  CHECK(server.in_flight() == 0);
}

TEST_CASE("test server: a request is in flight from its header until its answer is written",
          "[replay][test_server]") {
  TestServer server;
  server.on("/slow", Behaviour::ok().after(300ms));
  Exchange e;
  std::thread client([&] { e = exchange(server.port(), get("/slow")); });

  REQUIRE(server.wait_for_requests(1, 5s));
  CHECK(server.in_flight() == 1);
  CHECK(server.open_connections() == 1);
  CHECK_FALSE(server.wait_for_requests(2, 50ms));
  client.join();

  CHECK(e.bytes.rfind("HTTP/1.1 200 OK\r\n", 0) == 0);
  CHECK(server.in_flight() == 0);
  CHECK(server.max_in_flight() == 1);
  CHECK(eventually([&] { return server.open_connections() == 0; }));
}

TEST_CASE("test server: reset, close and garbage", "[replay][test_server]") {
  TestServer server;
  server.on("/reset", Behaviour::reset_connection());
  server.on("/close", Behaviour::close_connection());
  server.on("/garbage", Behaviour::garbage());
  server.on("/late-reset", Behaviour::reset_connection().after(100ms));

  auto e = exchange(server.port(), get("/reset"));
  CHECK(e.end == RawClient::End::reset);
  CHECK(e.bytes.empty());

  e = exchange(server.port(), get("/late-reset"));
  CHECK(e.end == RawClient::End::reset);
  CHECK(e.bytes.empty());

  e = exchange(server.port(), get("/close"));
  CHECK(e.end == RawClient::End::eof);
  CHECK(e.bytes.empty());

  e = exchange(server.port(), get("/garbage"));
  CHECK(e.end == RawClient::End::eof);
  CHECK(e.bytes == Behaviour::garbage_bytes);

  // Each was logged before the server misbehaved, and none of it is the server's error.
  CHECK(server.request_count() == 4);
  CHECK(server.request_count("/reset") == 1);
  CHECK(server.in_flight() == 0);
  CHECK(server.error_count() == 0);

  SECTION("curl sees each failure for what it is") {
    const auto curl = [&](const std::string& path) {
      return run({"curl", "-sS", "--max-time", "10", server.url(path)}).exit_code;
    };
    CHECK(curl("/reset") == 56);    // CURLE_RECV_ERROR: connection reset
    CHECK(curl("/close") == 52);    // CURLE_GOT_NOTHING: empty reply
    CHECK(curl("/garbage") != 0);   // not HTTP (curl refuses HTTP/0.9)
    CHECK(curl("/fine") == 0);
  }
}

TEST_CASE("test server: curl, keep-alive and Expect: 100-continue", "[replay][test_server]") {
  TestServer server;
  // curl sends "Expect: 100-continue" before a body over 1 MiB and waits a second for the 100.
  const std::string body(2 * 1024 * 1024, 'x');
  const auto start = Clock::now();
  const auto r = run({"curl", "-sS", "--max-time", "10", "--data-binary", "@-", server.url("/up"),
                      "--next", server.url("/second")},
                     body);
  const auto elapsed = Clock::now() - start;
  REQUIRE(r.exit_code == 0);
  CHECK(r.out == "ok /upok /second");
  CHECK(elapsed < 900ms);

  const auto log = server.requests();
  REQUIRE(log.size() == 2);
  CHECK(log[0].method == "POST");
  CHECK(log[0].header("Expect") == "100-continue");
  CHECK(log[0].body.size() == body.size());
  CHECK(log[1].method == "GET");
  CHECK(log[1].connection == log[0].connection);  // curl reused the connection
  CHECK(server.connections_accepted() == 1);
}

TEST_CASE("test server: stop_accepting refuses connections, resume_accepting listens again",
          "[replay][test_server]") {
  TestServer server;
  // A connection established before the stop is still served.
  RawClient early(server.port());
  REQUIRE(early.connected());
  REQUIRE(eventually([&] { return server.connections_accepted() == 1; }));

  server.stop_accepting();
  CHECK(exchange(server.port(), get("/refused")).end == RawClient::End::refused);

  early.send(get("/early"));
  std::string bytes;
  CHECK(early.read_to_end(bytes) == RawClient::End::eof);
  CHECK(ends_with(bytes, "ok /early"));

  server.resume_accepting();
  const auto e = exchange(server.port(), get("/again"));
  CHECK(ends_with(e.bytes, "ok /again"));
  CHECK(server.connections_accepted() == 2);
  CHECK(server.request_count() == 2);
}

TEST_CASE("test server: a request over the body limit is not logged and counts an error",
          "[replay][test_server]") {
  TestServerOptions options;
  options.body_limit = 16;
  TestServer server(options);
  const auto e = exchange(server.port(),
                          "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: 17\r\n\r\n"
                          "12345678901234567");
  CHECK(e.bytes.empty());
  CHECK(e.end != RawClient::End::timeout);
  CHECK(server.request_count() == 0);
  CHECK(server.error_count() == 1);
  CHECK(server.last_error().find("body limit") != std::string::npos);
}

TEST_CASE("test server: many clients on several threads", "[replay][test_server]") {
  TestServerOptions options;
  options.threads = 3;
  TestServer server(options);
  server.set_behaviour(Behaviour::ok().after(50ms));
  constexpr std::size_t clients = 8;
  std::vector<Exchange> results(clients);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < clients; ++i)
    threads.emplace_back([&, i] { results[i] = exchange(server.port(), get("/c/" + std::to_string(i))); });
  for (auto& t : threads) t.join();

  for (std::size_t i = 0; i < clients; ++i) CHECK(ends_with(results[i].bytes, "ok /c/" + std::to_string(i)));
  std::set<std::uint64_t> connections;
  for (const auto& r : server.requests()) connections.insert(r.connection);
  CHECK(connections.size() == clients);
  CHECK(server.max_in_flight() >= 2);
  CHECK(server.max_in_flight() <= std::uint64_t{clients});
}

TEST_CASE("test server: the destructor does not wait for delayed answers", "[replay][test_server]") {
  auto server = std::make_unique<TestServer>();
  server->set_behaviour(Behaviour::ok().after(std::chrono::hours(1)));
  Exchange e;
  std::thread client([&, port = server->port()] { e = exchange(port, get("/forever"), 10s); });
  REQUIRE(server->wait_for_requests(1));

  const auto start = Clock::now();
  server.reset();
  CHECK(Clock::now() - start < 1s);
  client.join();
  CHECK(e.end != RawClient::End::timeout);
  CHECK(e.bytes.empty());
}
